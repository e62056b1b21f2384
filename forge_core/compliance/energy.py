"""What training cost in device time and, estimated, in energy.

energy (kWh) = device-hours x power (W) / 1000, device-hours = the train run's duration x devices.
The power is `compliance.power_watts` when a person measured it, else the maximum board power
(TDP) the vendor's datasheet gives for the recorded GPU: an upper bound, since a GPU draws less
when it waits on data, and a bound that leaves out the host's CPUs, memory, network and cooling
(a data centre's PUE). A CPU run, or a GPU not listed, is not estimated without a measured figure:
a server's draw depends on its sockets and load, which Forge does not record.
"""

from __future__ import annotations

# Maximum board power in watts, from NVIDIA's datasheets, matched on torch.cuda.get_device_name().
# The PCIe and NVL cards are configured lower than the SXM modules of the same chip; a GH200's
# figure is for the module with its Grace CPU, not the GPU alone, so it is left out.
BOARD_POWER_W: list[tuple[tuple[str, ...], float, str]] = [
    (("h200", "nvl"), 600.0, "NVIDIA H200 NVL datasheet: up to 600 W"),
    (("h200",), 700.0, "NVIDIA H200 SXM datasheet: up to 700 W"),
    (("h100", "pcie"), 350.0, "NVIDIA H100 PCIe datasheet: 300-350 W"),
    (("h100", "nvl"), 400.0, "NVIDIA H100 NVL datasheet: 350-400 W"),
    (("h100",), 700.0, "NVIDIA H100 SXM datasheet: up to 700 W"),
    (("a100", "pcie"), 300.0, "NVIDIA A100 PCIe datasheet: 300 W"),
    (("a100",), 400.0, "NVIDIA A100 SXM datasheet: 400 W"),
    (("l40s",), 350.0, "NVIDIA L40S datasheet: 350 W"),
    (("l40",), 300.0, "NVIDIA L40 datasheet: 300 W"),
]

FORMULA = "energy_kwh = device_hours x power_watts / 1000; device_hours = run_seconds x devices / 3600"


def board_power(device_name: str) -> tuple[float, str] | None:
    """(watts, where the figure comes from) for a GPU name; None for a CPU, a GH200 or an unlisted device."""
    name = device_name.lower()
    if "gh200" in name:
        return None
    for words, watts, source in BOARD_POWER_W:
        if all(w in name for w in words):
            return watts, source
    return None


def device_hours(seconds: float, devices: int) -> float:
    return seconds * devices / 3600


def energy_kwh(hours: float, watts: float) -> float:
    return hours * watts / 1000
