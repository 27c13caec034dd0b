"""template.yaml, read as the local stack needs it: resources to create, functions to run, values to resolve.

The local stack builds everything from this file, so it cannot drift from what SAM deploys. Only the
resource types the pipeline touches at run time are created; the rest (alarms, policies, layers) are listed
as skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !GetAtt, !Sub …) turned into their long forms."""


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class Template:
    """A parsed template plus the physical ids the local stack gave its resources."""

    doc: dict[str, Any]
    root: Path
    region: str = "us-east-1"
    stack_name: str = "complaints-local"
    parameters: dict[str, str] = field(default_factory=dict)
    physical: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id → {"Ref": …, "Arn": …}

    @classmethod
    def load(cls, path: str | Path, **kw: Any) -> Template:
        path = Path(path)
        return cls(load_template(path), path.parent, **kw)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.doc["Resources"]

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        return str(self.doc["Parameters"][name].get("Default", ""))

    # -------------------------------------------------------------- resolve
    def resolve(self, value: Any) -> Any:
        """Evaluate the intrinsic functions the local stack needs: Ref, GetAtt and Sub (others stay unresolved)."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        if key == "Ref":
            return self._ref(arg)
        if key == "Fn::GetAtt":
            logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.physical[logical][attr]
        if key == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(extra.get(m.group(1)) or self._sub_var(m.group(1))), text)
        return {key: self.resolve(arg)}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.doc.get("Parameters", {}):
            return self.parameter(name)
        return self.physical[name]["Ref"]

    def _sub_var(self, var: str) -> str:
        if "." in var:
            logical, attr = var.split(".", 1)
            return self.physical[logical][attr]
        return self._ref(var)

    # ------------------------------------------------------------- functions
    def functions(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::Serverless::Function")

    def function_layers(self, logical: str) -> list[str]:
        globals_ = self.doc.get("Globals", {}).get("Function", {})
        refs = [*globals_.get("Layers", []), *self.functions()[logical]["Properties"].get("Layers", [])]
        return [r["Ref"] for r in refs if isinstance(r, dict) and "Ref" in r]

    def function_environment(self, logical: str) -> dict[str, str]:
        """Globals + the function's own variables, resolved; `/opt/…` paths mapped into the layers' folders."""
        globals_ = self.doc.get("Globals", {}).get("Function", {})
        env = dict(globals_.get("Environment", {}).get("Variables", {}))
        env.update(self.functions()[logical]["Properties"].get("Environment", {}).get("Variables", {}))
        resolved = {k: str(self.resolve(v)) for k, v in env.items()}
        return {k: self._opt_path(logical, v) for k, v in resolved.items()}

    def _opt_path(self, logical: str, value: str) -> str:
        # Lambda unpacks layers into /opt: find which layer folder holds the file.
        if not value.startswith("/opt/"):
            return value
        rel = value[len("/opt/") :]
        for layer in self.function_layers(logical):
            content = self.resources[layer]["Properties"]["ContentUri"]
            candidate = self.root / content / rel
            if candidate.exists():
                return str(candidate)
        return value

    def function_code(self, logical: str) -> tuple[Path, str, str]:
        """(code folder, module name, handler attribute) of a function."""
        props = self.functions()[logical]["Properties"]
        module, attr = props["Handler"].rsplit(".", 1)
        return self.root / props["CodeUri"], module, attr

    def api_routes(self, logical: str) -> list[tuple[str, str]]:
        """(METHOD, path template) of the function's Api events."""
        events = self.functions()[logical]["Properties"].get("Events", {})
        return [
            (e["Properties"]["Method"].upper(), e["Properties"]["Path"]) for e in events.values() if e["Type"] == "Api"
        ]

    def api_route_authorizers(self, logical: str) -> dict[tuple[str, str], str]:
        """(METHOD, path template) → the name of the authorizer the route's event names (`Auth: Authorizer`)."""
        events = self.functions()[logical]["Properties"].get("Events", {})
        return {
            (e["Properties"]["Method"].upper(), e["Properties"]["Path"]): e["Properties"]["Auth"]["Authorizer"]
            for e in events.values()
            if e["Type"] == "Api" and "Authorizer" in e["Properties"].get("Auth", {})
        }

    def _api(self) -> dict[str, Any]:
        """The template's one API (an empty one for a template without, such as a test's)."""
        apis = list(self.of_type("AWS::Serverless::Api").values())
        if len(apis) > 1:
            raise NotImplementedError("the local gateway serves one AWS::Serverless::Api")
        return apis[0] if apis else {"Properties": {}}

    def cognito_authorizers(self) -> dict[str, str]:
        """The API's Cognito authorizers: name → the logical id of the user pool they trust."""
        api = self._api()
        authorizers = api["Properties"].get("Auth", {}).get("Authorizers", {})
        return {name: a["UserPoolArn"]["Fn::GetAtt"][0] for name, a in authorizers.items() if "UserPoolArn" in a}

    def gateway_responses(self) -> dict[str, dict[str, Any]]:
        """The API's GatewayResponses: API Gateway's own answers, by response type (MISSING_AUTHENTICATION_TOKEN …)."""
        return self._api()["Properties"].get("GatewayResponses", {})

    def schedule_events(self, logical: str) -> list[dict[str, Any]]:
        """The function's Schedule events, their properties resolved (`Schedule` is an expression string)."""
        events = self.functions()[logical]["Properties"].get("Events", {})
        return [self.resolve(e["Properties"]) for e in events.values() if e["Type"] == "Schedule"]

    def sqs_events(self, logical: str) -> list[dict[str, Any]]:
        events = self.functions()[logical]["Properties"].get("Events", {})
        return [e["Properties"] for e in events.values() if e["Type"] == "SQS"]

    def dynamodb_events(self, logical: str) -> list[dict[str, Any]]:
        """The function's DynamoDB (stream) events, their properties resolved (`Stream` is the stream's ARN)."""
        events = self.functions()[logical]["Properties"].get("Events", {})
        return [self.resolve(e["Properties"]) for e in events.values() if e["Type"] == "DynamoDB"]
