"""The name the autonomous-driving template tests import the CloudFormation loader by.

The loader lives in :mod:`scripts.cfn_template`; this alias goes once those tests import it from there.
"""

from __future__ import annotations

from scripts.cfn_template import loads as load_template

__all__ = ["load_template"]
