"""A local HTTPS simulator of the Azure Resource Manager API for the resources the Guard uses.

Start it with ``python -m localdev.azure_sim --estate FILE`` or from Python with
:func:`localdev.azure_sim.launcher.running_simulator`. See ``localdev/README.md``.
"""
