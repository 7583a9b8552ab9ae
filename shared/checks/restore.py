"""Restore-target checks: a restore-target cluster needs the backup extension too.

The rule is :func:`shared.checks.extension.check_restore_target_extension`; re-exported here so
each family has its module.
"""

from __future__ import annotations

from shared.checks.extension import check_restore_target_extension

__all__ = ["check_restore_target_extension"]
