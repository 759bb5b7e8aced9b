"""Static data the fake serves: regions, VM sizes, default quotas."""

from __future__ import annotations

# name -> (display name, geography group, physical location)
REGIONS = {
    "eastus": ("East US", "US", "Virginia"),
    "eastus2": ("East US 2", "US", "Virginia"),
    "westus2": ("West US 2", "US", "Washington"),
    "westus3": ("West US 3", "US", "Phoenix"),
    "centralus": ("Central US", "US", "Iowa"),
    "northeurope": ("North Europe", "Europe", "Ireland"),
    "westeurope": ("West Europe", "Europe", "Netherlands"),
    "uksouth": ("UK South", "UK", "London"),
    "francecentral": ("France Central", "Europe", "Paris"),
    "germanywestcentral": ("Germany West Central", "Europe", "Frankfurt"),
    "swedencentral": ("Sweden Central", "Europe", "Gävle"),
    "southeastasia": ("Southeast Asia", "Asia Pacific", "Singapore"),
    "japaneast": ("Japan East", "Asia Pacific", "Tokyo, Saitama"),
    "australiaeast": ("Australia East", "Asia Pacific", "New South Wales"),
    "canadacentral": ("Canada Central", "Canada", "Toronto"),
    "brazilsouth": ("Brazil South", "South America", "Sao Paulo State"),
}

DEFAULT_LOCATIONS = ["eastus", "eastus2", "westus2", "northeurope", "westeurope", "uksouth", "southeastasia",
                     "australiaeast"]

# name, family, vCPUs, memoryGB, gpus, lowPriorityCapable
VM_SIZES = [
    ("Standard_DS1_v2", "standardDSv2Family", 1, 3.5, 0, True),
    ("Standard_DS2_v2", "standardDSv2Family", 2, 7.0, 0, True),
    ("Standard_DS3_v2", "standardDSv2Family", 4, 14.0, 0, True),
    ("Standard_DS4_v2", "standardDSv2Family", 8, 28.0, 0, True),
    ("Standard_DS11_v2", "standardDSv2Family", 2, 14.0, 0, True),
    ("Standard_DS12_v2", "standardDSv2Family", 4, 28.0, 0, True),
    ("Standard_D2s_v3", "standardDSv3Family", 2, 8.0, 0, True),
    ("Standard_D4s_v3", "standardDSv3Family", 4, 16.0, 0, True),
    ("Standard_D8s_v3", "standardDSv3Family", 8, 32.0, 0, True),
    ("Standard_D2as_v4", "standardDASv4Family", 2, 8.0, 0, True),
    ("Standard_D4as_v4", "standardDASv4Family", 4, 16.0, 0, True),
    ("Standard_E4s_v3", "standardESv3Family", 4, 32.0, 0, True),
    ("Standard_F4s_v2", "standardFSv2Family", 4, 8.0, 0, True),
    ("Standard_NC4as_T4_v3", "standardNCASv3_T4Family", 4, 28.0, 1, True),
    ("Standard_NC6s_v3", "standardNCSv3Family", 6, 112.0, 1, True),
]

FAMILY_NAMES = {
    "standardDSv2Family": "Standard DSv2 Family",
    "standardDSv3Family": "Standard DSv3 Family",
    "standardDASv4Family": "Standard DASv4 Family",
    "standardESv3Family": "Standard ESv3 Family",
    "standardFSv2Family": "Standard FSv2 Family",
    "standardNCASv3_T4Family": "Standard NCASv3_T4 Family",
    "standardNCSv3Family": "Standard NCSv3 Family",
}

# Per-family dedicated vCPU limits for a fresh subscription (GPU families start at zero, as on Azure).
DEFAULT_QUOTA = {
    "standardDSv2Family": 24,
    "standardDSv3Family": 24,
    "standardDASv4Family": 24,
    "standardESv3Family": 10,
    "standardFSv2Family": 10,
    "standardNCASv3_T4Family": 0,
    "standardNCSv3Family": 0,
}
TOTAL_DEDICATED = "TotalDedicatedCores"
TOTAL_LOW_PRIORITY = "TotalLowPriorityCores"
DEFAULT_TOTALS = {TOTAL_DEDICATED: 100, TOTAL_LOW_PRIORITY: 100}


def vm_size(name: str) -> tuple | None:
    for row in VM_SIZES:
        if row[0].lower() == (name or "").lower():
            return row
    return None


def location_json(sub: str, name: str) -> dict:
    display, geo, physical = REGIONS.get(name, (name, "US", name))
    return {
        "id": f"/subscriptions/{sub}/locations/{name}",
        "name": name,
        "type": "Region",
        "displayName": display,
        "regionalDisplayName": f"({geo}) {display}",
        "metadata": {
            "regionType": "Physical",
            "regionCategory": "Recommended",
            "geographyGroup": geo,
            "longitude": "0",
            "latitude": "0",
            "physicalLocation": physical,
            "pairedRegion": [],
        },
    }


def normalize_location(loc: str) -> str:
    """'East US' -> 'eastus' (ARM accepts display names on input)."""
    return (loc or "").replace(" ", "").lower()
