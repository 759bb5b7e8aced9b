"""A small ARM template expression evaluator: enough for the templates azure-ai-ml deploys.

Supports "[...]" expressions with string/number/bool literals, property access (.x), indexing ([i]) and
the functions listed in FUNCTIONS. Unknown functions raise TemplateError (-> InvalidTemplate).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any


class TemplateError(Exception):
    pass


_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][\w]*)"
                    r"|(?P<punct>[(),.\[\]]))")


def _tokenize(text: str) -> list[tuple[str, Any]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise TemplateError(f"cannot parse expression near {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.group("str") is not None:
            out.append(("str", m.group("str")[1:-1].replace("''", "'")))
        elif m.group("num") is not None:
            n = m.group("num")
            out.append(("num", float(n) if "." in n else int(n)))
        elif m.group("name") is not None:
            out.append(("name", m.group("name")))
        else:
            out.append(("p", m.group("punct")))
    return out


class _Parser:
    def __init__(self, tokens, ctx: "Context"):
        self.t = tokens
        self.i = 0
        self.ctx = ctx

    def peek(self, value=None):
        if self.i >= len(self.t):
            return None
        tok = self.t[self.i]
        if value is not None and tok != ("p", value):
            return None
        return tok

    def take(self, value=None):
        tok = self.peek()
        if tok is None or (value is not None and tok != ("p", value)):
            raise TemplateError(f"expected {value!r}, got {tok!r}")
        self.i += 1
        return tok

    def expr(self):
        kind, val = self.take()
        if kind in ("str", "num"):
            result = val
        elif kind == "name":
            if val in ("true", "false") and not self.peek("("):
                result = val == "true"
            else:
                self.take("(")
                args = []
                if not self.peek(")"):
                    args.append(self.expr())
                    while self.peek(","):
                        self.take(",")
                        args.append(self.expr())
                self.take(")")
                result = self.ctx.call(val, args)
        else:
            raise TemplateError(f"unexpected {val!r}")
        while True:
            if self.peek("."):
                self.take(".")
                _, prop = self.take()
                result = _get_prop(result, prop)
            elif self.peek("["):
                self.take("[")
                idx = self.expr()
                self.take("]")
                result = _get_prop(result, idx)
            else:
                return result


def _get_prop(obj, key):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(key, str) and k.lower() == key.lower():
                return v
        return None
    if isinstance(obj, list) and isinstance(key, int):
        return obj[key]
    return None


def _empty(v) -> bool:
    return v is None or v == "" or v == [] or v == {}


class Context:
    def __init__(self, template: dict, parameters: dict, *, subscription: dict, resource_group: dict,
                 deployment_name: str):
        self.template = template
        self.subscription = subscription
        self.resource_group = resource_group
        self.deployment_name = deployment_name
        self.params: dict[str, Any] = {}
        declared = template.get("parameters") or {}
        given = {k.lower(): v for k, v in (parameters or {}).items()}
        for name, spec in declared.items():
            if name.lower() in given:
                value = given[name.lower()]
                self.params[name.lower()] = value.get("value") if isinstance(value, dict) and "value" in value \
                    else value
            elif "defaultValue" in spec:
                self.params[name.lower()] = self.evaluate(spec["defaultValue"])
            else:
                raise TemplateError(f"The value for the template parameter '{name}' is not provided.")
        self._variables = {k.lower(): v for k, v in (template.get("variables") or {}).items()}
        self._var_cache: dict[str, Any] = {}

    # -- values
    def evaluate(self, value: Any) -> Any:
        if isinstance(value, str):
            if value.startswith("[["):
                return value[1:]
            if value.startswith("[") and value.endswith("]"):
                tokens = _tokenize(value[1:-1])
                parser = _Parser(tokens, self)
                result = parser.expr()
                if parser.i != len(tokens):
                    raise TemplateError(f"trailing tokens in {value!r}")
                return result
            return value
        if isinstance(value, dict):
            return {k: self.evaluate(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.evaluate(v) for v in value]
        return value

    def variable(self, name: str) -> Any:
        key = name.lower()
        if key not in self._var_cache:
            if key not in self._variables:
                raise TemplateError(f"The template variable '{name}' is not found.")
            self._var_cache[key] = self.evaluate(self._variables[key])
        return self._var_cache[key]

    # -- functions
    def call(self, name: str, args: list) -> Any:
        fn = FUNCTIONS.get(name.lower())
        if fn is None:
            raise TemplateError(f"The template function '{name}' is not supported by FakeAzure.")
        return fn(self, *args)

    def resource_id(self, *args) -> str:
        args = [str(a) for a in args]
        sub, rg = self.subscription["id"], self.resource_group["name"]
        # resourceId([subscriptionId], [resourceGroupName], resourceType, resourceName1, ...)
        type_idx = next(i for i, a in enumerate(args) if "/" in a and "." in a.split("/")[0])
        if type_idx == 2:
            sub, rg = args[0] or sub, args[1] or rg
        elif type_idx == 1:
            rg = args[0] or rg
        rtype, names = args[type_idx], args[type_idx + 1:]
        ns, *types = rtype.split("/")
        path = "/".join(f"{t}/{n}" for t, n in zip(types, names))
        return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{path}"


def _unique_string(*parts) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[int(digest[i:i + 2], 16) % 32] for i in range(0, 26, 2))


def _format(_ctx, fmt, *args):
    return re.sub(r"\{(\d+)\}", lambda m: str(args[int(m.group(1))]), fmt)


def _union(_ctx, *objs):
    if all(isinstance(o, dict) for o in objs):
        out: dict = {}
        for o in objs:
            out.update(o)
        return out
    out_list: list = []
    for o in objs:
        for x in o or []:
            if x not in out_list:
                out_list.append(x)
    return out_list


FUNCTIONS = {
    "parameters": lambda ctx, name: ctx.params[name.lower()] if name.lower() in ctx.params else
    (_ for _ in ()).throw(TemplateError(f"The template parameter '{name}' is not found.")),
    "variables": lambda ctx, name: ctx.variable(name),
    "concat": lambda ctx, *a: (sum((list(x) for x in a), []) if a and isinstance(a[0], list)
                               else "".join("" if x is None else str(x) for x in a)),
    "equals": lambda ctx, a, b: a == b,
    "and": lambda ctx, *a: all(a),
    "or": lambda ctx, *a: any(a),
    "not": lambda ctx, a: not a,
    "if": lambda ctx, c, a, b: a if c else b,
    "empty": lambda ctx, a: _empty(a),
    "tolower": lambda ctx, a: str(a).lower(),
    "toupper": lambda ctx, a: str(a).upper(),
    "string": lambda ctx, a: a if isinstance(a, str) else json.dumps(a),
    "bool": lambda ctx, a: a if isinstance(a, bool) else str(a).lower() == "true",
    "int": lambda ctx, a: int(a),
    "json": lambda ctx, a: json.loads(a),
    "array": lambda ctx, a: a if isinstance(a, list) else [a],
    "createarray": lambda ctx, *a: list(a),
    "createobject": lambda ctx, *a: {a[i]: a[i + 1] for i in range(0, len(a), 2)},
    "contains": lambda ctx, c, x: (x in c) if not isinstance(c, dict) else x in c,
    "length": lambda ctx, a: len(a),
    "coalesce": lambda ctx, *a: next((x for x in a if x is not None), None),
    "union": _union,
    "format": _format,
    "replace": lambda ctx, s, a, b: str(s).replace(a, b),
    "split": lambda ctx, s, d: str(s).split(d),
    "last": lambda ctx, a: a[-1],
    "first": lambda ctx, a: a[0],
    "substring": lambda ctx, s, i, n=None: str(s)[i:] if n is None else str(s)[i:i + n],
    "uniquestring": lambda ctx, *a: _unique_string(*a),
    "guid": lambda ctx, *a: str(uuid.uuid5(uuid.NAMESPACE_URL, "|".join(str(x) for x in a))),
    "resourceid": lambda ctx, *a: ctx.resource_id(*a),
    "subscriptionresourceid": lambda ctx, *a: (
        f"/subscriptions/{ctx.subscription['id']}/providers/{a[0]}/" + "/".join(str(x) for x in a[1:])),
    "subscription": lambda ctx: {"id": f"/subscriptions/{ctx.subscription['id']}",
                                 "subscriptionId": ctx.subscription["id"],
                                 "tenantId": ctx.subscription["tenant"],
                                 "displayName": ctx.subscription["name"]},
    "resourcegroup": lambda ctx: dict(ctx.resource_group),
    "deployment": lambda ctx: {"name": ctx.deployment_name},
    "reference": lambda ctx, *a: {},
    "utcnow": lambda ctx, *a: "20240101T000000Z",
    "null": lambda ctx: None,
    "true": lambda ctx: True,
    "false": lambda ctx: False,
}
