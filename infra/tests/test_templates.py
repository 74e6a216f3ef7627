"""Checks the SAM template and the synthesized CDK template: least-privilege IAM per function,
alert rule patterns equal to the rules file and each rule's input transformer naming its rule,
encryption, no secrets in environment variables, the events DLQ trusting exactly the stack's
rules, the delivery and buffer alarms, state TTLs, the task index's projection, the buffer's
poison-record DLQ, the incident table and the alerter's grants on it, the digest flush schedule,
the optional chat topic and channel configurations (the SAM template's conditions evaluated for
several parameter sets), the reconciler's schedule and its ECS grants (evaluated as IAM would for
requests on named and other clusters), the service and deployment tables, the task table's deployment
index and each function's grants on them (issue #24), and the SAM parameters' constraints. Issue #25:
the organization option (the central bus and its policy, the rules on it, this account's events
forwarded to it, the reconciler's roles in member accounts, nothing of it when off) and the member
template (infra/member/template.yaml). Run by scripts/test after `cdk synth` (see docs/deploy.md)."""

import fnmatch
import json
import re
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
SAM_TEMPLATE = ROOT / "infra" / "template.yaml"
CDK_TEMPLATE = ROOT / "infra" / "cdk" / "cdk.out" / "EcsEvents.template.json"
DEFAULT_RULES = ROOT / "rules" / "default.json"
EXAMPLE_RULES = ROOT / "rules" / "examples.json"
STATE_STORE_SOURCE = ROOT / "shared" / "src" / "state" / "dynamodb.rs"
INCIDENT_STORE_SOURCE = ROOT / "shared" / "src" / "incident" / "dynamodb.rs"
SERVICE_STORE_SOURCE = ROOT / "shared" / "src" / "service" / "dynamodb.rs"
# Issue #25: the member accounts' template, and the ECS calls the reconciler makes (its read role's).
MEMBER_TEMPLATE = ROOT / "infra" / "member" / "template.yaml"
ECS_API_SOURCE = ROOT / "shared" / "src" / "reconcile" / "ecs_api.rs"
# EventBridge's predefined input-transformer variable for the whole event.
EVENT_JSON = "<aws.events.event.json>"
MAX_INPUT_TEMPLATE_CHARS = 8192
# What the task index projects besides the keys: what listing a cluster's tasks reads.
TASK_STATUS_INDEX = "clusterArn-lastStatus-index"
# Issue #23: the reconciler finds a cluster's container instances, to mark the lost ones.
CONTAINER_INSTANCE_STATUS_INDEX = "clusterArn-status-index"
CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES = ["version", "missingSince"]
TASK_STATUS_INDEX_ATTRIBUTES = [
    "version", "group", "startedAt", "stoppedAt", "stopCode", "failedContainers", "missingSince",
]
# Issue #24: a deployment's tasks (sparse: only tasks a deployment started carry deploymentId),
# projecting what a deployment's summary counts.
TASK_DEPLOYMENT_INDEX = "deploymentId-index"
TASK_DEPLOYMENT_INDEX_ATTRIBUTES = [
    "clusterArn", "lastStatus", "version", "startedAt", "stoppedAt", "outcome", "stopCause",
]
# Issue #24: services and deployments (shared/src/service/dynamodb.rs), as cli/src/tables.rs makes them.
SERVICE_KEY_SCHEMA = [{"AttributeName": "serviceArn", "KeyType": "HASH"}]
DEPLOYMENT_KEY_SCHEMA = [
    {"AttributeName": "serviceArn", "KeyType": "HASH"},
    {"AttributeName": "deploymentId", "KeyType": "RANGE"},
]
DEPLOYMENT_CLUSTER_INDEX = "clusterArn-updatedAt-index"
DEPLOYMENT_CLUSTER_INDEX_DEFINITION = {
    "IndexName": DEPLOYMENT_CLUSTER_INDEX,
    "KeySchema": [
        {"AttributeName": "clusterArn", "KeyType": "HASH"},
        {"AttributeName": "updatedAt", "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "ALL"},
}

LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
DESTINATION_ACTIONS = {"sqs:SendMessage"}
ALLOWED_ACTIONS = {
    "listener": LOG_ACTIONS | DESTINATION_ACTIONS,
    "state-tracker": LOG_ACTIONS | DESTINATION_ACTIONS | {
        "dynamodb:PutItem",
        # Issue #24: services and deployments, one conditional UpdateItem each.
        "dynamodb:UpdateItem",
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    },
    "alerter": LOG_ACTIONS | DESTINATION_ACTIONS | {
        "dynamodb:PutItem", "dynamodb:DeleteItem", "sns:Publish", "kms:Decrypt",
        "kms:GenerateDataKey*",
        # Incidents (issue #14): GetItem/PutItem/UpdateItem on the table, Query on its due-index.
        "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query",
        # Issue #24: the service health check reads every service.
        "dynamodb:Scan",
    },
    # Issue #16: the state tracker's writes, the missing mark, the task index; ECS reads only
    # (checked on their own, by test_the_reconciler_reads_ecs_only_on_its_clusters).
    "reconciler": LOG_ACTIONS | DESTINATION_ACTIONS | {
        "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
        # Issue #23: the stored versions of what ECS describes, without their details.
        "dynamodb:BatchGetItem",
        # Issue #24: the stored services.
        "dynamodb:Scan",
    },
}
# The ECS API calls of the reconciler (shared/src/reconcile/ecs_api.rs), and the resource each is
# authorized on for a cluster, per the Service Authorization Reference (ListTasks: a container
# instance; ListClusters: none, "*").
ECS_READS = {
    "ecs:DescribeClusters": "cluster/{cluster}",
    "ecs:ListContainerInstances": "cluster/{cluster}",
    "ecs:ListTasks": "container-instance/{cluster}/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "ecs:DescribeTasks": "task/{cluster}/95b918ce77c865209529878959a99780",
    "ecs:DescribeContainerInstances": "container-instance/{cluster}/0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    # Issue #24: ListServices has no resource type ("*"); DescribeServices is authorized on the
    # service (both take the ecs:cluster condition key).
    "ecs:ListServices": "*",
    "ecs:DescribeServices": "service/{cluster}/web",
}
# What a deployment resolves the pseudo parameters to, for evaluating grants.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "111111111111"}
# The tables (by hash key) each function may use at all (which actions on which table and index:
# the tests of each function's grants).
ALLOWED_TABLE_KEYS = {
    "listener": set(),
    "state-tracker": {"taskArn", "containerInstanceArn", "serviceArn"},
    "alerter": {"alertKey", "incidentKey", "serviceArn", "taskArn"},
    "reconciler": {"taskArn", "containerInstanceArn", "serviceArn"},
}
RESOURCE_TYPE_OF_SERVICE = {
    "logs": "AWS::Logs::LogGroup",
    "dynamodb": "AWS::DynamoDB::Table",
    "sns": "AWS::SNS::Topic",
    "kms": "AWS::KMS::Key",
    "sqs": "AWS::SQS::Queue",
}
ALLOWED_ENVIRONMENT = {
    "listener": set(),
    "state-tracker": {
        "TASK_TABLE", "CONTAINER_INSTANCE_TABLE", "STOPPED_TASK_RETENTION_DAYS",
        "CONTAINER_INSTANCE_RETENTION_DAYS", "DEAD_LETTER_QUEUE_URL",
        # Issue #24.
        "SERVICE_TABLE", "DEPLOYMENT_TABLE",
    },
    # No ALERT_CLAIM_SECONDS (issue #13): a claim lasts until the invocation's deadline.
    "alerter": {
        "TOPIC_ARN", "LEDGER_TABLE", "ALERT_RULES", "INCIDENT_TABLE", "CHAT_TOPIC_ARN",
        # Issue #24: the service watch and task outcomes.
        "SERVICE_TABLE", "DEPLOYMENT_TABLE", "TASK_TABLE", "SILENCE_MINUTES", "EXPECTED_EXIT_CODES",
        # The names of accounts (AccountNames / accountNames), only when given.
        "ACCOUNT_NAMES",
    },
    "reconciler": {
        "TASK_TABLE", "CONTAINER_INSTANCE_TABLE", "STOPPED_TASK_RETENTION_DAYS",
        "CONTAINER_INSTANCE_RETENTION_DAYS", "RECONCILE_CLUSTERS", "RECONCILE_MAX_API_CALLS",
        # Issue #24.
        "SERVICE_TABLE",
        # Issue #25: only with the organization parameters (ORGANIZATION_VARIABLES).
        "MEMBER_ACCOUNTS", "MEMBER_ROLE_NAME", "RECONCILE_REGIONS",
    },
}
# Issue #25: the reconciler's variables of the organization option, unset without it.
ORGANIZATION_VARIABLES = {"MEMBER_ACCOUNTS", "MEMBER_ROLE_NAME", "RECONCILE_REGIONS"}
# Issue #25: the SAM parameter sets of the organization option ("off": today's stack).
ORG_ID = "o-a1b2c3d4e5"
MEMBERS = ["222222222222", "333333333333"]
ORG_MODES = {
    "off": {},
    "organization": {"OrganizationId": ORG_ID},
    "accounts": {"MemberAccountIds": ",".join(MEMBERS)},
    "both": {"OrganizationId": ORG_ID, "MemberAccountIds": ",".join(MEMBERS)},
}
# Issue #14: the incident table as shared/src/incident/dynamodb.rs uses it.
# Issue #23: a range key, so a window's members are one item each (constant-size counts).
INCIDENT_KEY_SCHEMA = [
    {"AttributeName": "incidentKey", "KeyType": "HASH"},
    {"AttributeName": "entry", "KeyType": "RANGE"},
]
INCIDENT_ATTRIBUTES = [
    {"AttributeName": "incidentKey", "AttributeType": "S"},
    {"AttributeName": "entry", "AttributeType": "S"},
    {"AttributeName": "dueShard", "AttributeType": "S"},
    {"AttributeName": "dueAt", "AttributeType": "N"},
]
DUE_INDEX = "due-index"
DUE_INDEX_DEFINITION = {
    "IndexName": DUE_INDEX,
    "KeySchema": [
        {"AttributeName": "dueShard", "KeyType": "HASH"},
        {"AttributeName": "dueAt", "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}
# What the schedule sends the alerter, and how long EventBridge keeps trying one tick.
FLUSH_DIGESTS = {"flushDigests": True}
FLUSH_RETRY_POLICY = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 120}
CHAT_RESOURCE_TYPES = {
    "AWS::Chatbot::SlackChannelConfiguration", "AWS::Chatbot::MicrosoftTeamsChannelConfiguration",
}
SLACK_IDS = {"SlackWorkspaceId": "T0123ABCD", "SlackChannelId": "C0123ABCD"}
TEAMS_IDS = {
    "TeamsTenantId": "01234567-89ab-cdef-0123-456789abcdef",
    "TeamsTeamId": "fedcba98-7654-3210-fedc-ba9876543210",
    "TeamsChannelId": "19%3a0123456789abcdef0123456789abcdef%40thread.tacv2",
}


def load(path):
    assert path.exists(), f"{path} is missing (the CDK template comes from `npm run synth` in infra/cdk)"
    return json.loads(json.dumps(cfn_yaml.load(str(path))))


@pytest.fixture(params=["sam", "cdk"])
def template(request):
    return load(SAM_TEMPLATE if request.param == "sam" else CDK_TEMPLATE)


def rules_file_of(template_path):
    """The rules file a template was generated from (SAM) or synthesized with (CDK: default)."""
    match = re.search(r"Generated by scripts/sync-rules from (\S+):", template_path.read_text())
    return ROOT / match.group(1) if match else DEFAULT_RULES


def resources(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def functions(template):
    """Function logical id by role: the alerter has TOPIC_ARN, the reconciler RECONCILE_CLUSTERS,
    the tracker TASK_TABLE."""
    found = {}
    for kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
        for name, function in resources(template, kind).items():
            variables = function["Properties"].get("Environment", {}).get("Variables", {})
            role = (
                "alerter" if "TOPIC_ARN" in variables
                else "reconciler" if "RECONCILE_CLUSTERS" in variables
                else "state-tracker" if "TASK_TABLE" in variables
                else "listener"
            )
            assert role not in found, f"two {role} functions: {found[role]} and {name}"
            found[role] = name
    assert set(found) == {"listener", "state-tracker", "alerter", "reconciler"}, found
    return found


def referenced(value):
    """Logical ids a Ref / GetAtt / Sub / Join / If expression refers to (NoValue excluded)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return set() if value["Ref"].startswith("AWS::") else {value["Ref"]}
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return {target[0] if isinstance(target, list) else target.split(".")[0]}
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            return {ref.split(".")[0] for ref in re.findall(r"\$\{([^}!]+)\}", text) if not ref.startswith("AWS::")}
        return set().union(*(referenced(item) for item in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(referenced(item) for item in value)) if value else set()
    return set()


def branches(value):
    """The values of a possibly conditional (Fn::If) list item, NoValue dropped."""
    if isinstance(value, dict) and "Fn::If" in value:
        return [v for branch in value["Fn::If"][1:] for v in branches(branch)]
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def as_list(value):
    return value if isinstance(value, list) else [value]


def get_att(value):
    """(logical id, attribute) of a GetAtt, in either of its forms; None for anything else."""
    if not isinstance(value, dict) or set(value) != {"Fn::GetAtt"}:
        return None
    target = value["Fn::GetAtt"]
    return tuple(target) if isinstance(target, list) else tuple(target.split(".", 1))


def the_alert_topic(template):
    """The topic the alerter's TOPIC_ARN names (the alarms' topic; the chat topic is another)."""
    variables = template["Resources"][functions(template)["alerter"]]["Properties"]["Environment"]["Variables"]
    (topic,) = referenced(variables["TOPIC_ARN"])
    assert template["Resources"][topic]["Type"] == "AWS::SNS::Topic", topic
    return topic


def pattern_rules(template):
    """EventBridge rules on an event pattern (the all-ECS rule, one per alert rule)."""
    return {name: rule for name, rule in resources(template, "AWS::Events::Rule").items()
            if "EventPattern" in rule["Properties"]}


def schedule_rules(template):
    """EventBridge rules on a schedule (the digest flush)."""
    found = {name: rule for name, rule in resources(template, "AWS::Events::Rule").items()
             if "ScheduleExpression" in rule["Properties"]}
    assert set(found).isdisjoint(pattern_rules(template)), "a rule with both a pattern and a schedule"
    return found


def render(value):
    """A Ref / GetAtt / Sub / Join as text, for comparing ARNs built either way:
    {"Fn::Sub": "${T.Arn}/index/x"} and {"Fn::Join": ["", [{"Fn::GetAtt": ["T", "Arn"]}, "/index/x"]]}
    both render as "${T.Arn}/index/x". Logical ids are kept as they are; AWS::Partition is "aws"."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return "aws" if value["Ref"] == "AWS::Partition" else "${" + value["Ref"] + "}"
    if get_att(value):
        return "${%s.%s}" % get_att(value)
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return value["Fn::Sub"].replace("${AWS::Partition}", "aws")
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    raise AssertionError(f"cannot render {value}")


def evaluate(value, parameters, conditions):
    """A condition expression's truth value, or a parameter's value, for `parameters`."""
    if isinstance(value, dict):
        (function, argument), = value.items()
        if function == "Fn::Equals":
            left, right = (evaluate(item, parameters, conditions) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not evaluate(argument[0], parameters, conditions)
        if function == "Fn::And":
            return all(evaluate(item, parameters, conditions) for item in argument)
        if function == "Fn::Or":
            return any(evaluate(item, parameters, conditions) for item in argument)
        if function == "Condition":
            return evaluate(conditions[argument], parameters, conditions)
        if function == "Ref" and argument in parameters:
            return parameters[argument]
        if function == "Ref" and argument in PSEUDO:
            return PSEUDO[argument]
        if function == "Fn::Join":
            separator, items = argument
            items = evaluate(items, parameters, conditions)
            return separator.join(str(evaluate(item, parameters, conditions)) for item in as_list(items))
        raise AssertionError(f"cannot evaluate {value}")
    return value


def parameter_values(template, overrides=None):
    """Every parameter's value: its default, or the override (unknown names refused). A
    CommaDelimitedList is a list of its items, each trimmed, as CloudFormation reads it ("" is [""])."""
    declared = template.get("Parameters", {})
    assert set(overrides or {}) <= set(declared), set(overrides or {}) - set(declared)
    values = {name: str(definition.get("Default", "")) for name, definition in declared.items()} | dict(overrides or {})
    return {
        name: [item.strip() for item in value.split(",")]
        if declared[name]["Type"] == "CommaDelimitedList" else value
        for name, value in values.items()
    }


def deployed(template, overrides=None):
    """The template as CloudFormation would deploy it with these parameter values: resources and
    outputs whose condition is false dropped, every Fn::If replaced by its branch, NoValue items
    and properties removed. (The CDK template has no conditions: it comes back unchanged.)"""
    parameters = parameter_values(template, overrides)
    conditions = template.get("Conditions", {})
    holds = {name: evaluate(expression, parameters, conditions) for name, expression in conditions.items()}
    no_value = object()

    def resolve(value):
        if isinstance(value, dict) and set(value) == {"Fn::If"}:
            condition, when_true, when_false = value["Fn::If"]
            return resolve(when_true if holds[condition] else when_false)
        if value == {"Ref": "AWS::NoValue"}:
            return no_value
        if isinstance(value, dict):
            resolved = {key: resolve(item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not no_value}
        if isinstance(value, list):
            return [item for item in (resolve(item) for item in value) if item is not no_value]
        return value

    result = dict(template)
    for section in ("Resources", "Outputs"):
        result[section] = {
            name: resolve(body) for name, body in template.get(section, {}).items()
            if "Condition" not in body or holds[body["Condition"]]
        }
    return result


def rules_refusing(template, overrides):
    """The names of the template's Rules whose assertions fail for these parameter values."""
    parameters = parameter_values(template, overrides)
    return {
        name for name, rule in template.get("Rules", {}).items()
        if not all(evaluate(assertion["Assert"], parameters, {}) for assertion in rule["Assertions"])
    }


def alarms_on(template, namespace, metric, dimension=None, dimensions=None):
    """The alarms watching `metric` of `namespace`: with exactly the one dimension given, or
    exactly these dimensions (in any order), if any."""
    wanted = [dimension] if dimension is not None else dimensions
    key = lambda items: sorted(json.dumps(item, sort_keys=True) for item in items)
    return {
        name: alarm for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
        if alarm["Properties"].get("Namespace") == namespace
        and alarm["Properties"].get("MetricName") == metric
        and (wanted is None or key(alarm["Properties"].get("Dimensions", [])) == key(wanted))
    }


def assert_notifies_the_alert_topic(template, name, alarm):
    properties = alarm["Properties"]
    assert properties["AlarmActions"] == [{"Ref": the_alert_topic(template)}], name
    assert properties["ComparisonOperator"] == "GreaterThanThreshold", name


def conditional(value):
    """(condition, value) pairs of a possibly conditional value: (None, value) when it is plain,
    one pair per non-NoValue branch of an Fn::If (the false branch as "!condition")."""
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        return [
            (name, v)
            for name, branch in ((condition, when_true), ("!" + condition, when_false))
            for _, v in conditional(branch)
        ]
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [(None, value)]


def role_statements_with_conditions(template, role):
    """(condition, statement) of every statement granted to `role` (condition None: always)."""
    statements = []
    properties = template["Resources"][role]["Properties"]
    assert not properties.get("ManagedPolicyArns"), f"{role} has managed policies: {properties['ManagedPolicyArns']}"
    for policy in properties.get("Policies", []):
        statements += policy["PolicyDocument"]["Statement"]
    for policy in resources(template, "AWS::IAM::Policy").values():
        if role in referenced(policy["Properties"].get("Roles", [])):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return [pair for item in statements for pair in conditional(item)]


def role_statements(template, role):
    return [statement for _, statement in role_statements_with_conditions(template, role)]


def table_with_keys(template, key_schema):
    """The logical id of the one table with exactly this key schema."""
    (name,) = [
        name for name, table in resources(template, "AWS::DynamoDB::Table").items()
        if table["Properties"]["KeySchema"] == key_schema
    ]
    return name


def dynamodb_grants(template, function):
    """Every (action, resource) a function's role allows on DynamoDB, the resource rendered
    (${Table.Arn} or ${Table.Arn}/index/<name>)."""
    role = role_of(template, functions(template)[function])
    return {
        (action, render(resource))
        for statement in role_statements(template, role)
        for action in as_list(statement["Action"]) if action.startswith("dynamodb:")
        for resource in as_list(statement["Resource"])
    }


def role_of(template, function_id):
    (role,) = referenced(template["Resources"][function_id]["Properties"]["Role"])
    return role


def on_failure_queue(template, function_id):
    """The queue a function's failed async invocations go to (SAM property or CDK resource)."""
    properties = template["Resources"][function_id]["Properties"]
    configs = [properties.get("EventInvokeConfig")] + [
        config["Properties"] for config in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if function_id in referenced(config["Properties"]["FunctionName"])
    ]
    (queue,) = {get_att(c["DestinationConfig"]["OnFailure"]["Destination"])[0] for c in configs if c}
    return queue


def buffers_and_dead_letter_queues(template):
    """{buffer queue: (its dead-letter queue, the condition both exist under)} of the tracker's
    SQS event source mappings; empty in a direct (unbuffered) template."""
    found = {}
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        (buffer, _) = get_att(mapping["Properties"]["EventSourceArn"])
        redrive = template["Resources"][buffer]["Properties"]["RedrivePolicy"]
        (dlq, _) = get_att(redrive["deadLetterTargetArn"])
        found[buffer] = (dlq, mapping.get("Condition"))
    return found


def alert_rule_targets(template):
    """{EventBridge rule: its targets} of the pattern rules that invoke the alerter."""
    alerter = functions(template)["alerter"]
    return {
        name: rule["Properties"]["Targets"]
        for name, rule in pattern_rules(template).items()
        if any(alerter in referenced(target["Arn"]) for target in rule["Properties"]["Targets"])
    }


def rule_name_of_input_template(input_template):
    """The rule an alert target's input template names; asserts the payload's exact shape."""
    assert len(input_template) <= MAX_INPUT_TEMPLATE_CHARS, input_template
    assert input_template.count(EVENT_JSON) == 1, input_template
    # The variable is a JSON value (unquoted): with it replaced, the template is plain JSON.
    payload = json.loads(input_template.replace(EVENT_JSON, "{}"))
    assert set(payload) == {"rule", "event"} and payload["event"] == {}, input_template
    assert isinstance(payload["rule"], str), input_template
    return payload["rule"]


def test_every_function_role_grants_only_its_own_actions_on_its_own_resources(template):
    for function, name in functions(template).items():
        properties = template["Resources"][name]["Properties"]
        (role,) = referenced(properties["Role"])
        own_log_groups = referenced(properties.get("LoggingConfig", {}).get("LogGroup", {}))
        statements = role_statements(template, role)
        assert statements, f"{function} has no permissions at all"
        for statement in statements:
            assert statement["Effect"] == "Allow"
            actions = set(as_list(statement["Action"]))
            if function == "reconciler" and all(action.startswith("ecs:") for action in actions):
                continue  # Resources outside the stack: test_the_reconciler_reads_ecs_only_on_its_clusters.
            if function == "reconciler" and actions == {"sts:AssumeRole"}:
                continue  # Roles in member accounts (issue #25): test_sam_the_reconciler_assumes_the_read_role_...
            assert actions <= ALLOWED_ACTIONS[function], f"{function}: {actions - ALLOWED_ACTIONS[function]}"
            for resource in as_list(statement["Resource"]):
                assert resource != "*" and not (isinstance(resource, str) and "*" in resource), f"{function}: wildcard resource {resource}"
                targets = referenced(resource)
                assert targets, f"{function}: resource {resource} names no resource of the stack"
                for action in actions:
                    expected_type = RESOURCE_TYPE_OF_SERVICE[action.split(":")[0]]
                    for target in targets:
                        target_resource = template["Resources"][target]
                        assert target_resource["Type"] == expected_type, f"{function}: {action} on {target}"
                        if expected_type == "AWS::DynamoDB::Table":
                            keys = {k["AttributeName"] for k in target_resource["Properties"]["KeySchema"] if k["KeyType"] == "HASH"}
                            assert keys <= ALLOWED_TABLE_KEYS[function], f"{function} may not use table {target}"
                        if expected_type == "AWS::Logs::LogGroup" and own_log_groups:
                            assert target in own_log_groups, f"{function} writes another function's logs: {target}"


def test_the_alert_rule_patterns_and_alert_rules_variable_equal_the_rules_file(template):
    path = SAM_TEMPLATE if "Transform" in template else CDK_TEMPLATE
    rules = json.loads(rules_file_of(path).read_text())
    alerter = functions(template)["alerter"]
    patterns = []
    for rule in pattern_rules(template).values():
        targets = rule["Properties"]["Targets"]
        if any(alerter in referenced(target["Arn"]) for target in targets):
            pattern = rule["Properties"]["EventPattern"]
            patterns.append(json.loads(pattern) if isinstance(pattern, str) else pattern)
    key = lambda pattern: json.dumps(pattern, sort_keys=True)
    # The pattern exactly: a rule's "group" setting (issue #14) is the alerter's, not EventBridge's.
    assert sorted(patterns, key=key) == sorted((r["pattern"] for r in rules), key=key)
    variables = template["Resources"][alerter]["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["ALERT_RULES"]) == rules


def assert_each_alert_rule_invokes_the_alerter_with_its_name_and_the_event(template, rules):
    # Issue #13 (1): one invocation per (event, rule) — the alerter sends that rule's alert and
    # matches nothing again, so two rules matching one event no longer race for the same claims.
    deployed = {}
    alert_rules = alert_rule_targets(template)
    for name, targets in alert_rules.items():
        (target,) = targets
        transformer = target.get("InputTransformer")
        assert transformer, f"{name}: the alerter gets the raw event"
        assert transformer["InputPathsMap"] == {}, name
        rule = rule_name_of_input_template(transformer["InputTemplate"])
        assert rule not in deployed, f"{name} and {deployed.get(rule)} both name {rule!r}"
        pattern = template["Resources"][name]["Properties"]["EventPattern"]
        deployed[rule] = json.loads(pattern) if isinstance(pattern, str) else pattern
    # Exactly the rules file's names, each on the EventBridge rule of its own pattern.
    assert deployed == {rule["name"]: rule["pattern"] for rule in rules}
    # The other pattern rules (AllEcsEventsRule: listener, state tracker) deliver the event itself.
    others = set(pattern_rules(template)) - set(alert_rules)
    assert "AllEcsEventsRule" in others
    for name in others:
        for target in template["Resources"][name]["Properties"]["Targets"]:
            assert not {"InputTransformer", "Input", "InputPath"} & set(target), f"{name}: {target}"


def test_each_alert_rule_invokes_the_alerter_with_its_name_and_the_event(template):
    path = SAM_TEMPLATE if "Transform" in template else CDK_TEMPLATE
    assert_each_alert_rule_invokes_the_alerter_with_its_name_and_the_event(
        template, json.loads(rules_file_of(path).read_text()))


def event_buses(template):
    return set(resources(template, "AWS::Events::EventBus"))


def test_every_target_of_every_rule_retries_and_dead_letters(template):
    for name, rule in pattern_rules(template).items():
        for target in rule["Properties"]["Targets"]:
            assert "DeadLetterConfig" in target, f"{name}: no dead-letter queue"
            if referenced(target["Arn"]) & event_buses(template):
                # Issue #25: EventBridge takes no RetryPolicy for an event bus target (its defaults
                # apply: 24 hours, 185 attempts); it puts events there with a role.
                assert "RetryPolicy" not in target and "RoleArn" in target, f"{name}: {target}"
                continue
            assert target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 0) > 0, f"{name}: no retry policy"
    # The schedules (digest flush, reconciler) have no DLQ, on purpose: a tick carries nothing, the
    # work is idempotent and the next tick does what a failed one left; they retry only briefly.
    for name, rule in schedule_rules(template).items():
        for target in rule["Properties"]["Targets"]:
            assert target.get("RetryPolicy") == FLUSH_RETRY_POLICY, name
            assert "DeadLetterConfig" not in target, f"{name}: a tick would be dead-lettered"


def test_tables_topic_and_queues_are_encrypted_and_tables_recoverable(template):
    for name, table in resources(template, "AWS::DynamoDB::Table").items():
        properties = table["Properties"]
        assert properties.get("SSESpecification", {}).get("SSEEnabled") is True, name
        assert properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True, name
        assert properties.get("BillingMode") == "PAY_PER_REQUEST", name
    for name, topic in resources(template, "AWS::SNS::Topic").items():
        assert "KmsMasterKeyId" in topic["Properties"], name
    queues = resources(template, "AWS::SQS::Queue")
    assert len(queues) >= 2
    for name, queue in queues.items():
        properties = queue["Properties"]
        assert properties.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in properties, name


def test_no_secrets_in_environment_variables(template):
    for function, name in functions(template).items():
        variables = template["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
        assert set(variables) <= ALLOWED_ENVIRONMENT[function], f"{function}: {set(variables)}"


def test_the_sam_template_is_in_sync_with_its_rules_file():
    import subprocess
    result = subprocess.run([str(ROOT / "scripts" / "sync-rules"), "--check", str(rules_file_of(SAM_TEMPLATE))], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_sam_template_defines_the_ttls_the_code_uses():
    template = load(SAM_TEMPLATE)
    tables = resources(template, "AWS::DynamoDB::Table")
    task = tables["TaskStateTable"]["Properties"]
    assert task["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert tables["AlertLedgerTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expiresAt"


def code_constant_strings(name, source=STATE_STORE_SOURCE):
    """The strings of a `const NAME: ... = "..."` or `[...]` in a Rust source (the state store's)."""
    match = re.search(rf"\b{name}\s*:[^=]*=\s*(.*?);", source.read_text(), re.DOTALL)
    assert match, f"{name} is not in {source}"
    return re.findall(r'"([^"]*)"', match.group(1))


def test_the_task_status_index_projects_only_what_listing_tasks_reads(template):
    # Issue #13 (10): ALL copied every attribute, the whole detail included, into the index (2-3x
    # the write cost) for a query that reads six of them.
    assert code_constant_strings("TASK_STATUS_INDEX") == [TASK_STATUS_INDEX]
    assert code_constant_strings("TASK_STATUS_INDEX_ATTRIBUTES") == TASK_STATUS_INDEX_ATTRIBUTES
    (task,) = [
        table["Properties"] for table in resources(template, "AWS::DynamoDB::Table").values()
        if table["Properties"]["KeySchema"] == [{"AttributeName": "taskArn", "KeyType": "HASH"}]
    ]
    # Unchanged by issue #24 (which adds the deployment index beside it): a new projection would
    # replace the index, which CloudFormation refuses in place.
    (index,) = [index for index in task["GlobalSecondaryIndexes"] if index["IndexName"] == TASK_STATUS_INDEX]
    assert index["KeySchema"] == [
        {"AttributeName": "clusterArn", "KeyType": "HASH"},
        {"AttributeName": "lastStatus", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": TASK_STATUS_INDEX_ATTRIBUTES}


def test_the_container_instance_index_lists_a_clusters_instances_by_status(template):
    assert code_constant_strings("CONTAINER_INSTANCE_STATUS_INDEX") == [CONTAINER_INSTANCE_STATUS_INDEX]
    assert (code_constant_strings("CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES")
            == CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES)
    (instance,) = [
        table["Properties"] for table in resources(template, "AWS::DynamoDB::Table").values()
        if table["Properties"]["KeySchema"] == [{"AttributeName": "containerInstanceArn", "KeyType": "HASH"}]
    ]
    (index,) = instance["GlobalSecondaryIndexes"]
    assert index["IndexName"] == CONTAINER_INSTANCE_STATUS_INDEX
    assert index["KeySchema"] == [
        {"AttributeName": "clusterArn", "KeyType": "HASH"},
        {"AttributeName": "status", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {
        "ProjectionType": "INCLUDE", "NonKeyAttributes": CONTAINER_INSTANCE_STATUS_INDEX_ATTRIBUTES,
    }


def sam_variants(template):
    """The template as deployed in each organization mode (SAM), or as synthesized (CDK)."""
    if "Transform" not in template:
        return {"cdk": template}
    return {mode: deployed(template, overrides) for mode, overrides in ORG_MODES.items()}


def test_the_events_dlq_trusts_exactly_the_rules_that_dead_letter_into_it(template):
    for variant in sam_variants(template).values():
        assert_the_events_dlq_trusts_exactly_the_rules_that_dead_letter_into_it(variant)


def assert_the_events_dlq_trusts_exactly_the_rules_that_dead_letter_into_it(template):
    # Issue #12 (6): a name-prefix ArnLike trusted other stacks' rules and missed shortened names.
    senders = {}
    for name, rule in resources(template, "AWS::Events::Rule").items():
        for target in rule["Properties"]["Targets"]:
            if "DeadLetterConfig" not in target:
                continue  # the digest flush schedule (see above): trusted by no queue
            queue, attribute = get_att(target["DeadLetterConfig"]["Arn"])
            assert attribute == "Arn", f"{name}: {target['DeadLetterConfig']}"
            senders.setdefault(queue, set()).add(name)
    assert senders
    policies = resources(template, "AWS::SQS::QueuePolicy").values()
    for queue, rules in senders.items():
        statements = [
            statement
            for policy in policies if {"Ref": queue} in policy["Properties"]["Queues"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Allow"
        ]
        (statement,) = statements
        assert statement["Principal"] == {"Service": "events.amazonaws.com"}
        assert statement["Action"] == "sqs:SendMessage"
        assert list(statement["Condition"]) == ["ArnEquals"], statement["Condition"]
        (key,) = statement["Condition"]["ArnEquals"]
        assert key == "aws:SourceArn"
        arns = as_list(statement["Condition"]["ArnEquals"][key])
        assert all(get_att(arn) and get_att(arn)[1] == "Arn" for arn in arns), arns
        assert {get_att(arn)[0] for arn in arns} == rules


def rule_dimensions(template, rule):
    """The metric dimensions EventBridge reports a rule's deliveries under: RuleName on the default
    bus (Ref of such a rule is its name); EventBusName and RuleName on a custom bus (issue #25), the
    name taken from the rule's ARN, rule/<bus>/<name> (Ref of such a rule is "<bus>|<name>")."""
    bus = template["Resources"][rule]["Properties"].get("EventBusName")
    if bus is None:
        return [{"Name": "RuleName", "Value": {"Ref": rule}}]
    return [
        {"Name": "EventBusName", "Value": bus},
        {"Name": "RuleName", "Value": {"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": [rule, "Arn"]}]}]}},
    ]


def test_every_rule_alarms_on_failed_and_lost_deliveries_to_the_alert_topic(template):
    for variant in sam_variants(template).values():
        assert_every_rule_alarms_on_failed_and_lost_deliveries_to_the_alert_topic(variant)


def assert_every_rule_alarms_on_failed_and_lost_deliveries_to_the_alert_topic(template):
    # Issue #12 (7): EventBridge reports undelivered events per rule, nowhere else. The digest
    # flush schedule (issue #14) has no DLQ, so only its FailedInvocations can go off.
    rules = resources(template, "AWS::Events::Rule")
    watched = {
        "FailedInvocations": set(rules),
        "InvocationsFailedToBeSentToDlq": {
            name for name, rule in rules.items()
            if all("DeadLetterConfig" in target for target in rule["Properties"]["Targets"])
        },
    }
    assert watched["InvocationsFailedToBeSentToDlq"] == set(pattern_rules(template))
    for metric, rule_names in watched.items():
        for rule in rule_names:
            alarms = alarms_on(template, "AWS/Events", metric, dimensions=rule_dimensions(template, rule))
            assert len(alarms) == 1, f"{rule}: {metric} alarms {sorted(alarms)}"
            for name, alarm in alarms.items():
                assert_notifies_the_alert_topic(template, name, alarm)
                assert alarm["Properties"]["Statistic"] == "Sum", name
                assert alarm["Properties"]["Threshold"] == 0, name
        assert len(alarms_on(template, "AWS/Events", metric)) == len(rule_names)


def test_sync_rules_lists_every_rule_of_a_larger_rules_file_in_the_dlq_policy_and_alarms():
    # The committed template has one alert rule: generate (in memory) from the six example rules.
    import runpy
    generate = runpy.run_path(str(ROOT / "scripts" / "sync-rules"))["generate"]
    generated = generate(EXAMPLE_RULES, SAM_TEMPLATE.read_text())
    template = json.loads(json.dumps(cfn_yaml.loads(generated)))
    rules = json.loads(EXAMPLE_RULES.read_text())
    assert len(pattern_rules(deployed(template))) == 1 + len(rules)
    assert set(schedule_rules(template)) == {"DigestFlushSchedule", "ReconcileSchedule"}
    assert_each_alert_rule_invokes_the_alerter_with_its_name_and_the_event(template, rules)
    test_the_events_dlq_trusts_exactly_the_rules_that_dead_letter_into_it(template)
    test_every_rule_alarms_on_failed_and_lost_deliveries_to_the_alert_topic(template)
    # Issue #25: with the organization option every rule is on the central bus (with the forwarding
    # rule beside them on the default bus).
    central = deployed(template, ORG_MODES["organization"])
    assert len(pattern_rules(central)) == 2 + len(rules)
    on_bus = {name for name, rule in pattern_rules(central).items() if "EventBusName" in rule["Properties"]}
    assert on_bus == set(pattern_rules(central)) - {"ForwardEcsEventsToCentralBus"}


def test_the_buffer_queue_keeps_14_days_and_alarms_when_its_oldest_message_waits(template):
    # Issue #12 (7). The synthesized CDK template is the direct variant (no buffer): its buffered
    # variant is checked by infra/cdk/test/stack.test.ts.
    buffers = {get_att(mapping["Properties"]["EventSourceArn"])[0]
               for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values()}
    if "Transform" in template:
        assert buffers == {"TrackerBufferQueue"}
    for buffer in buffers:
        queue = template["Resources"][buffer]
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600, buffer
        dimension = {"Name": "QueueName", "Value": {"Fn::GetAtt": [buffer, "QueueName"]}}
        alarms = alarms_on(template, "AWS/SQS", "ApproximateAgeOfOldestMessage", dimension)
        ((name, alarm),) = alarms.items()
        assert_notifies_the_alert_topic(template, name, alarm)
        assert alarm["Properties"]["Statistic"] == "Maximum", name
        assert 0 < alarm["Properties"]["Threshold"] <= 3600, name
        assert alarm.get("Condition") == queue.get("Condition"), f"{name} exists only with its queue"


def test_both_state_tables_expire_items_and_the_tracker_gets_both_retentions(template):
    # Issue #12 (2): deregistered container instances expire like stopped tasks.
    tables = {
        key["AttributeName"]: table["Properties"]
        for table in resources(template, "AWS::DynamoDB::Table").values()
        for key in table["Properties"]["KeySchema"] if key["KeyType"] == "HASH"
    }
    for key in ("taskArn", "containerInstanceArn"):
        assert tables[key].get("TimeToLiveSpecification") == {"AttributeName": "expiresAt", "Enabled": True}, key
    variables = template["Resources"][functions(template)["state-tracker"]]["Properties"]["Environment"]["Variables"]
    for variable in ("STOPPED_TASK_RETENTION_DAYS", "CONTAINER_INSTANCE_RETENTION_DAYS"):
        value = variables[variable]
        if isinstance(value, dict):
            value = template["Parameters"][value["Ref"]]["Default"]
        assert value == "7", variable


def test_functions_send_only_to_their_failure_queues_and_the_tracker_to_its_buffer_dlq(template):
    # Issue #13 (8): a buffered record that can never be tracked goes to the buffer's DLQ at once,
    # with its error, instead of five receives later: the tracker sends it there itself, only when
    # there is a buffer. Otherwise each function may send only to its own on-failure queue.
    buffers = buffers_and_dead_letter_queues(template)
    if "Transform" in template:
        assert set(buffers) == {"TrackerBufferQueue"}, "the SAM template's (conditional) buffer"
    for function, name in functions(template).items():
        wanted = [(None, "OnFailureDestination", ["sqs:SendMessage"], (on_failure_queue(template, name), "Arn"))]
        if function == "state-tracker":
            wanted += [
                (condition, "PoisonRecordsToDeadLetterQueue", ["sqs:SendMessage"], (dlq, "Arn"))
                for dlq, condition in buffers.values()
            ]
        sends = [
            (condition, statement.get("Sid"), as_list(statement["Action"]), get_att(resource))
            for condition, statement in role_statements_with_conditions(template, role_of(template, name))
            if "sqs:SendMessage" in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        ]
        assert sorted(sends, key=repr) == sorted(wanted, key=repr), function


def test_the_tracker_knows_its_buffer_dlq_exactly_when_there_is_a_buffer(template):
    # Issue #13 (8): DEAD_LETTER_QUEUE_URL names the buffer's DLQ (Ref of a queue is its URL),
    # under the buffer's condition; without a buffer the variable is absent.
    variables = template["Resources"][functions(template)["state-tracker"]]["Properties"]["Environment"]["Variables"]
    wanted = [(condition, {"Ref": dlq}) for dlq, condition in buffers_and_dead_letter_queues(template).values()]
    assert conditional(variables.get("DEAD_LETTER_QUEUE_URL", {"Ref": "AWS::NoValue"})) == wanted
    if "Transform" in template:
        assert wanted == [("Buffered", {"Ref": "TrackerBufferDeadLetterQueue"})]


RETENTION_ACCEPTED = ["1", "7", "9", "10", "99", "100", "999", "1000", "2999", "3000", "3599", "3600", "3649", "3650"]
RETENTION_REFUSED = ["0", "3651", "7.5", "-1", "", "abc", "01", "4000", "9999", "10000", " 7", "7 ", "1e3"]


@pytest.mark.parametrize("parameter", ["StoppedTaskRetentionDays", "ContainerInstanceRetentionDays"])
def test_retention_parameters_take_whole_days_from_1_to_3650_only(parameter):
    # Issue #12 (8): the state tracker parses whole days 1..=3650 and fails on every event otherwise.
    definition = load(SAM_TEMPLATE)["Parameters"][parameter]
    # CloudFormation applies AllowedPattern to String parameters only (a Number takes 7.5).
    assert definition["Type"] == "String"
    assert definition["ConstraintDescription"]
    pattern = definition["AllowedPattern"]
    assert re.fullmatch(pattern, definition["Default"])
    for value in RETENTION_ACCEPTED:
        assert re.fullmatch(pattern, value), f"{parameter} refuses {value!r}"
    for value in RETENTION_REFUSED:
        assert not re.fullmatch(pattern, value), f"{parameter} accepts {value!r}"


def test_alert_email_takes_an_email_address_or_nothing():
    # Issue #12 (8): the same rule as the CDK app's alertEmail check.
    definition = load(SAM_TEMPLATE)["Parameters"]["AlertEmail"]
    assert definition["ConstraintDescription"]
    pattern = definition["AllowedPattern"]
    for value in ["", "ops@example.com", "first.last+tag@mail.example.co.uk"]:
        assert re.fullmatch(pattern, value), f"AlertEmail refuses {value!r}"
    for value in ["not-an-email", "ops@example", "@example.com", "ops @example.com", "ops@example.com "]:
        assert not re.fullmatch(pattern, value), f"AlertEmail accepts {value!r}"


# ---------------------------------------------------------------- issue #14: incidents, digests, chat


def incident_table(template):
    (name,) = [
        name for name, table in resources(template, "AWS::DynamoDB::Table").items()
        if table["Properties"]["KeySchema"] == INCIDENT_KEY_SCHEMA
    ]
    return name


def test_the_incident_table_is_keyed_indexed_and_expires_as_the_code_uses_it(template):
    assert code_constant_strings("INCIDENT_KEY", INCIDENT_STORE_SOURCE) == ["incidentKey"]
    assert code_constant_strings("INCIDENT_ENTRY", INCIDENT_STORE_SOURCE) == ["entry"]
    assert code_constant_strings("DUE_INDEX", INCIDENT_STORE_SOURCE) == [DUE_INDEX]
    name = incident_table(template)
    table = template["Resources"][name]
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert sorted(properties["AttributeDefinitions"], key=repr) == sorted(INCIDENT_ATTRIBUTES, key=repr)
    # Exactly one index, keys only: the flush lists due windows and reads each from the table.
    assert properties["GlobalSecondaryIndexes"] == [DUE_INDEX_DEFINITION]
    assert "LocalSecondaryIndexes" not in properties
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    # Hardened and short-lived like the ledger: same policies, no fixed name.
    ledger = next(
        table for table in resources(template, "AWS::DynamoDB::Table").values()
        if table["Properties"]["KeySchema"] == [{"AttributeName": "alertKey", "KeyType": "HASH"}]
    )
    assert table.get("DeletionPolicy") == ledger.get("DeletionPolicy") == "Delete"
    assert table.get("UpdateReplacePolicy") == ledger.get("UpdateReplacePolicy") == "Delete"
    assert "TableName" not in properties and "Condition" not in table


def test_the_alerter_gets_the_incident_table_and_exactly_its_incident_grants(template):
    name = incident_table(template)
    found = functions(template)
    variables = template["Resources"][found["alerter"]]["Properties"]["Environment"]["Variables"]
    assert variables["INCIDENT_TABLE"] == {"Ref": name}
    grants = set()
    for statement in role_statements(template, role_of(template, found["alerter"])):
        for resource in as_list(statement["Resource"]):
            if name in referenced(resource):
                grants |= {(action, render(resource)) for action in as_list(statement["Action"])}
    table_arn, index_arn = "${%s.Arn}" % name, "${%s.Arn}/index/%s" % (name, DUE_INDEX)
    # GetItem (consistent reads), PutItem, UpdateItem and Query (a window's members) on the
    # table; Query on the due-index only. No Scan, no DeleteItem (items expire by TTL), no other
    # index, no `index/*`.
    assert grants == {
        ("dynamodb:GetItem", table_arn), ("dynamodb:PutItem", table_arn),
        ("dynamodb:UpdateItem", table_arn), ("dynamodb:Query", table_arn),
        ("dynamodb:Query", index_arn),
    }
    for function, function_id in found.items():
        if function != "alerter":
            for statement in role_statements(template, role_of(template, function_id)):
                assert name not in referenced(statement["Resource"]), function


def test_the_digest_flush_schedule_invokes_the_alerter_every_minute(template):
    alerter = functions(template)["alerter"]
    ((name, rule),) = [(name, rule) for name, rule in schedule_rules(template).items() if "DigestFlush" in name]
    properties = rule["Properties"]
    assert properties["ScheduleExpression"] == "rate(1 minute)"
    assert properties.get("State", "ENABLED") == "ENABLED"
    (target,) = properties["Targets"]
    assert get_att(target["Arn"]) == (alerter, "Arn")
    assert json.loads(target["Input"]) == FLUSH_DIGESTS
    assert not {"InputTransformer", "InputPath"} & set(target), target
    assert target["RetryPolicy"] == FLUSH_RETRY_POLICY
    assert "DeadLetterConfig" not in target
    # EventBridge may invoke the alerter from this rule, by its exact ARN.
    permissions = [
        permission["Properties"] for permission in resources(template, "AWS::Lambda::Permission").values()
        if get_att(permission["Properties"].get("SourceArn")) == (name, "Arn")
    ]
    assert permissions == [{
        "Action": "lambda:InvokeFunction",
        "FunctionName": permissions[0]["FunctionName"],
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [name, "Arn"]},
    }]
    assert referenced(permissions[0]["FunctionName"]) == {alerter}
    # It is trusted by no dead-letter queue (it sends none there).
    for policy in resources(template, "AWS::SQS::QueuePolicy").values():
        assert name not in referenced(policy["Properties"]["PolicyDocument"]), policy


def test_rule_group_settings_reach_the_alerter_unchanged_and_never_the_pattern(tmp_path):
    # The alerter reads "group" from ALERT_RULES; EventBridge must get the pattern alone.
    import runpy
    sync_rules = runpy.run_path(str(ROOT / "scripts" / "sync-rules"))
    generate = sync_rules["generate"]
    generate.__globals__["ROOT"] = tmp_path  # the rules file's path is written relative to it
    rules = [
        {"name": "grouped", "description": "Grouped with settings.",
         "pattern": {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]},
         "group": {"window": "15m", "crashLoopAfter": 3}},
        {"name": "each-task", "pattern": {"source": ["aws.ecs"], "detail": {"lastStatus": ["STOPPED"]}},
         "group": False},
        {"name": "defaults", "pattern": {"source": ["aws.ecs"], "detail-type": ["ECS Service Action"]},
         "group": True},
    ]
    rules_file = tmp_path / "grouped.json"
    rules_file.write_text(json.dumps(rules))
    template = json.loads(json.dumps(cfn_yaml.loads(generate(rules_file, SAM_TEMPLATE.read_text()))))
    variables = template["Resources"][functions(template)["alerter"]]["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["ALERT_RULES"]) == rules
    assert_each_alert_rule_invokes_the_alerter_with_its_name_and_the_event(template, rules)


@pytest.mark.parametrize("group, problem", [
    ('"yes"', "group must be false, true or an object"),
    ("5", "group must be false, true or an object"),
    ('{"windw": "10m"}', "unknown field 'windw'"),
    ('{"window": 10}', "group.window must be a string"),
    ('{"crashLoopAfter": "5"}', "group.crashLoopAfter must be a whole number"),
    ('{"crashLoopAfter": 2.5}', "group.crashLoopAfter must be a whole number"),
    ('{"crashLoopAfter": true}', "group.crashLoopAfter must be a whole number"),
])
def test_sync_rules_refuses_a_misshapen_group_naming_the_rule(group, problem):
    import runpy
    validate = runpy.run_path(str(ROOT / "scripts" / "sync-rules"))["validate"]
    rules = json.loads(f'[{{"name": "r", "pattern": {{"source": ["aws.ecs"]}}, "group": {group}}}]')
    with pytest.raises(SystemExit, match=re.escape(problem)) as refused:
        validate(rules, "rules.json")
    assert "rule #1 'r'" in str(refused.value)
    # The shapes the alerter takes pass (their values are the alerter's to check).
    for good in ("false", "true", "null", '{}', '{"window": "10m", "crashLoopAfter": 5}'):
        validate(json.loads(f'[{{"name": "r", "pattern": {{"source": ["aws.ecs"]}}, "group": {good}}}]'), "ok.json")
    with pytest.raises(SystemExit, match="unknown field 'grup'"):
        validate([{"name": "r", "pattern": {"source": ["aws.ecs"]}, "grup": False}], "rules.json")


def chat_topics(template):
    """Topics other than the alert topic: the chat topic, when there is one."""
    alert_topic = the_alert_topic(template)
    return {name: topic for name, topic in resources(template, "AWS::SNS::Topic").items() if name != alert_topic}


def publish_grants(template):
    """The topics the alerter may publish to."""
    role = role_of(template, functions(template)["alerter"])
    return {
        target
        for statement in role_statements(template, role) if "sns:Publish" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"]) for target in referenced(resource)
    }


def test_by_default_there_is_no_chat(template):
    # The synthesized CDK template is the default variant; the SAM template with its defaults.
    stack = deployed(template)
    alerter = stack["Resources"][functions(stack)["alerter"]]
    assert alerter["Properties"]["Environment"]["Variables"]["CHAT_TOPIC_ARN"] == ""
    assert chat_topics(stack) == {}
    assert not [r for r in stack["Resources"].values() if r["Type"] in CHAT_RESOURCE_TYPES]
    assert not [
        r for r in resources(stack, "AWS::IAM::Role").values()
        if "chatbot.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    ]
    assert publish_grants(stack) == {the_alert_topic(stack)}
    assert "ChatTopicArn" not in stack.get("Outputs", {})


def assert_the_chat_topic_is_the_alerters(stack):
    """One chat topic: encrypted with the alert topic's key, HTTPS only, named to the alerter,
    which may publish to it (and use the key); returns its logical id."""
    ((chat, topic),) = chat_topics(stack).items()
    alert_topic = stack["Resources"][the_alert_topic(stack)]
    assert topic["Properties"]["KmsMasterKeyId"] == alert_topic["Properties"]["KmsMasterKeyId"]
    (key,) = referenced(topic["Properties"]["KmsMasterKeyId"])
    variables = stack["Resources"][functions(stack)["alerter"]]["Properties"]["Environment"]["Variables"]
    assert variables["CHAT_TOPIC_ARN"] == {"Ref": chat}
    assert publish_grants(stack) == {the_alert_topic(stack), chat}
    role = role_of(stack, functions(stack)["alerter"])
    assert any(
        {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(as_list(statement["Action"]))
        and key in referenced(statement["Resource"])
        for statement in role_statements(stack, role)
    ), "the alerter cannot use the chat topic's key"
    (policy,) = [p["Properties"] for p in resources(stack, "AWS::SNS::TopicPolicy").values()
                 if {"Ref": chat} in p["Properties"]["Topics"]]
    assert any(
        statement["Effect"] == "Deny" and statement["Action"] == "sns:Publish"
        and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for statement in policy["PolicyDocument"]["Statement"]
    )
    assert not [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"], "only the alerter's role publishes"
    assert stack["Outputs"]["ChatTopicArn"]["Value"] == {"Ref": chat}
    return chat


def assert_chat_channel(stack, kind, chat_topic, ids):
    """The one channel configuration of `kind`: subscribed to the chat topic, read-only, logging
    errors, with the given ids; its role trusts the service and only reads CloudWatch."""
    ((name, configuration),) = resources(stack, kind).items()
    properties = configuration["Properties"]
    for key, value in ids.items():
        assert properties[key] == value, key
    assert properties["SnsTopicArns"] == [{"Ref": chat_topic}]
    assert [render(arn) for arn in properties["GuardrailPolicies"]] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert properties["LoggingLevel"] == "ERROR"
    assert properties["UserRoleRequired"] is False
    name_value = properties["ConfigurationName"]
    rendered = render(name_value)
    assert rendered.endswith("-slack" if "Slack" in kind else "-teams"), rendered
    assert re.fullmatch(r"[A-Za-z0-9_${}:.-]+", rendered), rendered
    (role,) = referenced(properties["IamRoleArn"])
    role_properties = stack["Resources"][role]["Properties"]
    assert role_properties["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "chatbot.amazonaws.com"}, "Action": "sts:AssumeRole"},
    ]
    assert [render(arn) for arn in role_properties["ManagedPolicyArns"]] == [
        "arn:aws:iam::aws:policy/CloudWatchReadOnlyAccess",
    ]
    assert "Policies" not in role_properties
    assert not [p for p in resources(stack, "AWS::IAM::Policy").values() if role in referenced(p["Properties"]["Roles"])]
    return name


def test_sam_chat_topic_alone_when_asked_for():
    stack = deployed(load(SAM_TEMPLATE), {"ChatTopic": "true"})
    assert_the_chat_topic_is_the_alerters(stack)
    assert not [r for r in stack["Resources"].values() if r["Type"] in CHAT_RESOURCE_TYPES]
    assert "ChatChannelRole" not in stack["Resources"]


def test_sam_slack_ids_create_the_topic_and_a_read_only_slack_channel():
    stack = deployed(load(SAM_TEMPLATE), SLACK_IDS)
    chat = assert_the_chat_topic_is_the_alerters(stack)
    assert_chat_channel(stack, "AWS::Chatbot::SlackChannelConfiguration", chat, SLACK_IDS | {
        "SlackWorkspaceId": {"Ref": "SlackWorkspaceId"}, "SlackChannelId": {"Ref": "SlackChannelId"},
    })
    assert resources(stack, "AWS::Chatbot::MicrosoftTeamsChannelConfiguration") == {}
    configuration = stack["Resources"]["SlackChannelConfiguration"]["Properties"]
    assert configuration["ConfigurationName"] == {"Fn::Sub": "${AWS::StackName}-${AWS::Region}-slack"}


def test_sam_teams_ids_create_the_topic_and_a_read_only_teams_channel():
    stack = deployed(load(SAM_TEMPLATE), TEAMS_IDS)
    chat = assert_the_chat_topic_is_the_alerters(stack)
    assert_chat_channel(stack, "AWS::Chatbot::MicrosoftTeamsChannelConfiguration", chat, {
        "TeamsTenantId": {"Ref": "TeamsTenantId"}, "TeamId": {"Ref": "TeamsTeamId"},
        "TeamsChannelId": {"Ref": "TeamsChannelId"},
    })
    assert resources(stack, "AWS::Chatbot::SlackChannelConfiguration") == {}
    # Slack and Teams together share the topic and the role.
    both = deployed(load(SAM_TEMPLATE), SLACK_IDS | TEAMS_IDS)
    chat = assert_the_chat_topic_is_the_alerters(both)
    assert_chat_channel(both, "AWS::Chatbot::SlackChannelConfiguration", chat, {})
    assert_chat_channel(both, "AWS::Chatbot::MicrosoftTeamsChannelConfiguration", chat, {})


def test_sam_every_chat_resource_exists_only_under_a_chat_condition():
    template = load(SAM_TEMPLATE)
    chat_conditions = {"HasChatTopic", "HasChatChannel", "HasSlackChannel", "HasTeamsChannel"}
    for name, resource in template["Resources"].items():
        if resource["Type"] in CHAT_RESOURCE_TYPES or name.startswith("Chat"):
            assert resource.get("Condition") in chat_conditions, name
    default = deployed(template)
    assert not {name for name in default["Resources"] if name.startswith("Chat")}


@pytest.mark.parametrize("overrides, refused", [
    ({}, set()),
    (SLACK_IDS, set()),
    (TEAMS_IDS, set()),
    (SLACK_IDS | TEAMS_IDS, set()),
    ({"SlackWorkspaceId": "T0123ABCD"}, {"SlackIdsTogether"}),
    ({"SlackChannelId": "C0123ABCD"}, {"SlackIdsTogether"}),
    ({"TeamsTenantId": TEAMS_IDS["TeamsTenantId"]}, {"TeamsIdsTogether"}),
    ({"TeamsTenantId": TEAMS_IDS["TeamsTenantId"], "TeamsTeamId": TEAMS_IDS["TeamsTeamId"]}, {"TeamsIdsTogether"}),
])
def test_sam_half_a_chat_channel_is_refused_at_deploy_time(overrides, refused):
    assert rules_refusing(load(SAM_TEMPLATE), overrides) == refused


CHAT_PARAMETER_VALUES = {
    "SlackWorkspaceId": (["", "T0123ABCD", "T01ABCDEFGH", "E0123ABCD"],
                         ["t0123abcd", "alerts", "#alerts", "T0123ABCD ", "https://app.slack.com/client/T0123ABCD"]),
    "SlackChannelId": (["", "C0123ABCD", "G0123ABCD", "C01ABCDEFGH"],
                       ["general", "#general", "C0123ABCD/", "c0123abcd"]),
    "TeamsTenantId": (["", TEAMS_IDS["TeamsTenantId"], TEAMS_IDS["TeamsTenantId"].upper()],
                      ["0123456789abcdef0123456789abcdef", "not-a-guid", TEAMS_IDS["TeamsTenantId"] + "0"]),
    "TeamsTeamId": (["", TEAMS_IDS["TeamsTeamId"]], ["{" + TEAMS_IDS["TeamsTeamId"] + "}"]),
    "TeamsChannelId": (["", TEAMS_IDS["TeamsChannelId"], "19%3A0123abcd%40thread.skype"],
                       ["19:0123abcd@thread.tacv2", "General", "19%3a0123 abcd%40thread.tacv2"]),
}


@pytest.mark.parametrize("parameter", sorted(CHAT_PARAMETER_VALUES))
def test_sam_chat_parameters_take_their_ids_or_nothing(parameter):
    definition = load(SAM_TEMPLATE)["Parameters"][parameter]
    assert definition["Type"] == "String" and definition["Default"] == ""
    assert definition["ConstraintDescription"]
    accepted, refused = CHAT_PARAMETER_VALUES[parameter]
    for value in accepted:
        assert re.fullmatch(definition["AllowedPattern"], value), f"{parameter} refuses {value!r}"
        assert len(value) <= definition.get("MaxLength", 36)
    for value in refused:
        assert not re.fullmatch(definition["AllowedPattern"], value), f"{parameter} accepts {value!r}"
    assert load(SAM_TEMPLATE)["Parameters"]["ChatTopic"]["AllowedValues"] == ["true", "false"]


# ---------------------------------------------------------------- the reconciler (issue #16)

def value_of(value, parameters):
    """An ARN expression's value as a deployment resolves it: Ref (parameters, pseudo parameters),
    Sub, Join and Split; a GetAtt stays a ${Id.Attr} placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [value_of(item, parameters) for item in value]
    names = PSEUDO | parameters
    if "Ref" in value:
        return names[value["Ref"]]
    if get_att(value):
        return "${%s.%s}" % get_att(value)
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        assert isinstance(text, str), value
        return re.sub(r"\$\{([^}]+)\}", lambda m: names.get(m.group(1), m.group(0)), text)
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        flat = [item for part in value_of(parts, parameters) for item in as_list(part)]
        return separator.join(flat)
    if "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return value_of(text, parameters).split(separator)
    raise AssertionError(f"cannot evaluate {value}")


def allows(statements, parameters, action, resource, context):
    """Whether any Allow statement grants `action` on `resource` in the request `context`, as IAM
    evaluates it: wildcards in actions, resources and Arn*/String*Like values; a condition on a
    key the request does not carry fails."""
    def matches(text, patterns):
        return any(fnmatch.fnmatchcase(text, pattern) for pattern in as_list(patterns))

    operators = {
        "StringEquals": lambda key, values: context.get(key) in values,
        "ArnEquals": lambda key, values: context.get(key) in values,
        "ArnLike": lambda key, values: key in context and matches(context[key], values),
    }
    for statement in statements:
        if statement["Effect"] != "Allow" or not matches(action, statement["Action"]):
            continue
        if not matches(resource, value_of(statement["Resource"], parameters)):
            continue
        conditions = statement.get("Condition", {})
        if all(
            operators[operator](key, as_list(value_of(values, parameters)))
            for operator, keys in conditions.items()
            for key, values in keys.items()
        ):
            return True
    return False


def ecs_request(action, cluster, region="us-east-1"):
    """(resource, context) of the reconciler's `action` on `cluster`, as ECS authorizes it."""
    prefix = f"arn:aws:ecs:{region}:{PSEUDO['AWS::AccountId']}:"
    context = {"aws:RequestedRegion": region}
    if action == "ecs:ListClusters":
        return "*", context
    if action in ("ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeContainerInstances",
                  "ecs:ListServices", "ecs:DescribeServices"):
        context["ecs:cluster"] = f"{prefix}cluster/{cluster}"
    if ECS_READS[action] == "*":
        return "*", context
    return prefix + ECS_READS[action].format(cluster=cluster), context


def reconciler_ecs_grants(template, overrides=None):
    """The reconciler's statements and the parameter values they are evaluated with."""
    resolved = deployed(template, overrides)
    statements = role_statements(resolved, role_of(resolved, functions(resolved)["reconciler"]))
    return statements, parameter_values(template, overrides)


@pytest.mark.parametrize("variant", ["sam", "cdk", "sam-named"])
def test_the_reconciler_reads_ecs_only_on_its_clusters(variant):
    # Issue #16: list and describe only, scoped to the named clusters (every cluster of the
    # account and region when none is named), in the stack's region only. (The CDK stack with
    # named clusters: infra/cdk/test/stack.test.ts.) Issue #24: services too (ListServices,
    # DescribeServices), as the Service Authorization Reference authorizes them.
    template = load(CDK_TEMPLATE if variant == "cdk" else SAM_TEMPLATE)
    named = ["prod", "batch-jobs"] if variant == "sam-named" else []
    statements, parameters = reconciler_ecs_grants(
        template, {"ReconcileClusters": ",".join(named)} if named else None
    )
    granted = {action for s in statements for action in as_list(s["Action"]) if action.startswith("ecs:")}
    assert granted <= set(ECS_READS) | {"ecs:ListClusters"}, granted
    assert all(action.split(":")[1].startswith(("List", "Describe")) for action in granted), granted

    def may(action, cluster, region="us-east-1"):
        return allows(statements, parameters, action, *ecs_request(action, cluster, region))

    for action in ECS_READS:
        for cluster in named or ["prod", "anything"]:
            assert may(action, cluster), f"{variant}: {action} on {cluster}"
            assert not may(action, cluster, region="eu-west-1"), f"{variant}: {action} in another region"
        if named:
            for other in ["staging", "prod-old", "jobs"]:
                assert not may(action, other), f"{variant}: {action} on {other}, not named"
    assert may("ecs:ListClusters", None) == (not named), variant
    assert not may("ecs:ListClusters", None, region="eu-west-1"), variant
    # Issue #24: a service ARN of the old format (no cluster in it) is described in its cluster only.
    def may_describe_old_service(cluster, region="us-east-1"):
        resource = f"arn:aws:ecs:{region}:{PSEUDO['AWS::AccountId']}:service/web"
        context = {"aws:RequestedRegion": region,
                   "ecs:cluster": f"arn:aws:ecs:{region}:{PSEUDO['AWS::AccountId']}:cluster/{cluster}"}
        return allows(statements, parameters, "ecs:DescribeServices", resource, context)
    for cluster in named or ["prod", "anything"]:
        assert may_describe_old_service(cluster), f"{variant}: an old-format service ARN in {cluster}"
        assert not may_describe_old_service(cluster, region="eu-west-1"), variant
    for other in (["staging"] if named else []):
        assert not may_describe_old_service(other), f"{variant}: an old-format service ARN in {other}"
    # DescribeServices reaches services only (of the stack's account), not whatever names the cluster.
    for resource in ("arn:aws:ecs:us-east-1:111111111111:task/prod/1",
                     "arn:aws:ecs:us-east-1:222222222222:service/prod/web"):
        context = {"aws:RequestedRegion": "us-east-1",
                   "ecs:cluster": f"arn:aws:ecs:us-east-1:{PSEUDO['AWS::AccountId']}:cluster/{(named or ['prod'])[0]}"}
        assert not allows(statements, parameters, "ecs:DescribeServices", resource, context), (variant, resource)
    # Nothing of ECS beyond reading: no write on any cluster.
    for action in ("ecs:StopTask", "ecs:UpdateService", "ecs:RunTask", "ecs:TagResource"):
        assert not allows(statements, parameters, action, "*", {"aws:RequestedRegion": "us-east-1"}), action


def test_the_reconciler_writes_the_state_tables_as_the_tracker_does_and_reads_the_task_index(template):
    (reconciler,) = [functions(template)["reconciler"]]
    statements = role_statements(template, role_of(template, reconciler))
    tables = {
        key["AttributeName"]: name
        for name, table in resources(template, "AWS::DynamoDB::Table").items()
        for key in table["Properties"]["KeySchema"] if key["KeyType"] == "HASH"
    }
    grants = sorted(
        (action, render(resource))
        for statement in statements
        for action in as_list(statement["Action"]) if action.startswith("dynamodb:")
        for resource in as_list(statement["Resource"])
    )
    task, instance = tables["taskArn"], tables["containerInstanceArn"]
    service = table_with_keys(template, SERVICE_KEY_SCHEMA)
    assert grants == sorted([
        # Issue #24: the stored services, and their desired count and status as ECS describes them.
        ("dynamodb:Scan", "${%s.Arn}" % service),
        ("dynamodb:UpdateItem", "${%s.Arn}" % service),
        ("dynamodb:PutItem", "${%s.Arn}" % task),
        ("dynamodb:PutItem", "${%s.Arn}" % instance),
        ("dynamodb:UpdateItem", "${%s.Arn}" % task),
        ("dynamodb:UpdateItem", "${%s.Arn}" % instance),
        ("dynamodb:BatchGetItem", "${%s.Arn}" % task),
        ("dynamodb:BatchGetItem", "${%s.Arn}" % instance),
        ("dynamodb:Query", "${%s.Arn}/index/%s" % (task, TASK_STATUS_INDEX)),
        ("dynamodb:Query", "${%s.Arn}/index/%s" % (instance, CONTAINER_INSTANCE_STATUS_INDEX)),
    ])


def test_the_reconciler_runs_on_its_schedule_without_retries_and_alarms_when_it_fails(template):
    reconciler = functions(template)["reconciler"]
    properties = template["Resources"][reconciler]["Properties"]
    assert properties["Timeout"] == 300
    variables = properties["Environment"]["Variables"]
    assert set(variables) <= ALLOWED_ENVIRONMENT["reconciler"]
    # Issue #25: the organization's variables only with its parameters (see test_sam_organization_...).
    resolved = deployed(template)["Resources"][reconciler]["Properties"]["Environment"]["Variables"]
    assert set(resolved) == ALLOWED_ENVIRONMENT["reconciler"] - ORGANIZATION_VARIABLES
    configs = [properties.get("EventInvokeConfig")] + [
        config["Properties"] for config in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if reconciler in referenced(config["Properties"]["FunctionName"])
    ]
    (config,) = [config for config in configs if config]
    assert config["MaximumRetryAttempts"] == 0, "the next run does the work again"
    schedule = schedule_rules(template)["ReconcileSchedule"]["Properties"]
    expression = schedule["ScheduleExpression"]
    assert (value_of(deployed(template)["Resources"]["ReconcileSchedule"]["Properties"]["ScheduleExpression"],
                     parameter_values(template))) == "rate(15 minutes)", expression
    (target,) = schedule["Targets"]
    assert get_att(target["Arn"]) == (reconciler, "Arn")
    assert json.loads(target["Input"]) == {}
    assert "DeadLetterConfig" not in target
    permissions = [
        p["Properties"] for p in resources(template, "AWS::Lambda::Permission").values()
        if get_att(p["Properties"].get("SourceArn")) == ("ReconcileSchedule", "Arn")
    ]
    assert len(permissions) == 1 and referenced(permissions[0]["FunctionName"]) == {reconciler}
    for metric in ("Errors", "Throttles"):
        alarms = alarms_on(template, "AWS/Lambda", metric, {"Name": "FunctionName", "Value": {"Ref": reconciler}})
        ((name, alarm),) = alarms.items()
        assert_notifies_the_alert_topic(template, name, alarm)
    if "Transform" in template:
        assert variables["RECONCILE_CLUSTERS"] == {"Ref": "ReconcileClusters"}
        assert variables["RECONCILE_MAX_API_CALLS"] == {"Ref": "ReconcileMaxApiCalls"}
    else:
        assert variables["RECONCILE_CLUSTERS"] == "" and variables["RECONCILE_MAX_API_CALLS"] == "2000"


@pytest.mark.parametrize("minutes, expression", [("1", "rate(1 minute)"), ("60", "rate(60 minutes)"), ("0", None)])
def test_sam_reconcile_interval_sets_the_schedule_and_0_removes_it(minutes, expression):
    template = load(SAM_TEMPLATE)
    resolved = deployed(template, {"ReconcileIntervalMinutes": minutes})
    parameters = parameter_values(template, {"ReconcileIntervalMinutes": minutes})
    schedule = resolved["Resources"].get("ReconcileSchedule")
    if expression is None:
        assert schedule is None
        for name, body in resolved["Resources"].items():
            assert "ReconcileSchedule" not in referenced(body), f"{name} needs the schedule"
        assert "ReconcilerFunction" in resolved["Resources"], "it can still be run by hand"
    else:
        assert value_of(schedule["Properties"]["ScheduleExpression"], parameters) == expression


RECONCILE_PARAMETERS = {
    "ReconcileIntervalMinutes": (["0", "1", "15", "59", "60", "999", "1000", "1399", "1439", "1440"],
                                 ["", "-1", "1441", "2000", "15.5", "015", " 15", "abc"]),
    "ReconcileMaxApiCalls": (["1", "2000", "9999", "59999", "64999", "65499", "65529", "65535"],
                             ["0", "", "65536", "70000", "99999", "02000", "1.5", "1e3"]),
    "ReconcileClusters": (["", "prod", "prod,batch-jobs", "my_cluster-2,a"],
                          ["prod, staging", "prod,", ",prod", "arn:aws:ecs:us-east-1:1:cluster/prod", "pr od", "a,,b"]),
}


@pytest.mark.parametrize("parameter", sorted(RECONCILE_PARAMETERS))
def test_sam_reconcile_parameters_take_what_the_reconciler_and_eventbridge_accept(parameter):
    definition = load(SAM_TEMPLATE)["Parameters"][parameter]
    accepted, refused = RECONCILE_PARAMETERS[parameter]
    pattern = re.compile(definition["AllowedPattern"])
    assert definition["Default"] in accepted
    for value in accepted:
        assert pattern.fullmatch(value), f"{parameter} refuses {value!r}"
    for value in refused:
        assert not pattern.fullmatch(value), f"{parameter} accepts {value!r}"


# ---------------------------------------------------------------- services and deployments (issue #24)

def table_resources(template):
    """{role: (logical id, the table resource)} of the state tables, found by their key schemas."""
    keys = {
        "task": [{"AttributeName": "taskArn", "KeyType": "HASH"}],
        "instance": [{"AttributeName": "containerInstanceArn", "KeyType": "HASH"}],
        "service": SERVICE_KEY_SCHEMA,
        "deployment": DEPLOYMENT_KEY_SCHEMA,
    }
    found = {}
    for role, schema in keys.items():
        name = table_with_keys(template, schema)
        found[role] = (name, template["Resources"][name])
    return found


def test_the_service_and_deployment_tables_are_keyed_indexed_and_kept_as_the_code_uses_them(template):
    assert code_constant_strings("DEPLOYMENT_CLUSTER_INDEX", SERVICE_STORE_SOURCE) == [DEPLOYMENT_CLUSTER_INDEX]
    tables = table_resources(template)
    task = tables["task"][1]
    sam = "Transform" in template
    for role, names in (("service", ("ServiceTableName", "ECSServiceState")),
                        ("deployment", ("DeploymentTableName", "ECSDeploymentState"))):
        name, table = tables[role]
        properties = table["Properties"]
        # State, like the task table: kept when the stack goes, or when an update would replace it.
        assert table.get("DeletionPolicy") == task.get("DeletionPolicy") == "Retain", name
        assert table.get("UpdateReplacePolicy") == task.get("UpdateReplacePolicy") == "Retain", name
        assert "Condition" not in table, name
        parameter, default = names
        if sam:
            assert properties["TableName"] == {"Ref": parameter}
            assert template["Parameters"][parameter]["Default"] == default
            assert template["Parameters"][parameter]["Type"] == "String"
        else:
            assert properties["TableName"] == default
        assert properties["BillingMode"] == "PAY_PER_REQUEST", name
        assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}, name
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert properties["SSESpecification"] == {"SSEEnabled": True}, name
        assert "LocalSecondaryIndexes" not in properties, name
    service = tables["service"][1]["Properties"]
    assert service["AttributeDefinitions"] == [{"AttributeName": "serviceArn", "AttributeType": "S"}]
    assert "GlobalSecondaryIndexes" not in service
    deployment = tables["deployment"][1]["Properties"]
    assert sorted(deployment["AttributeDefinitions"], key=repr) == sorted([
        {"AttributeName": "serviceArn", "AttributeType": "S"},
        {"AttributeName": "deploymentId", "AttributeType": "S"},
        {"AttributeName": "clusterArn", "AttributeType": "S"},
        {"AttributeName": "updatedAt", "AttributeType": "N"},
    ], key=repr)
    assert deployment["GlobalSecondaryIndexes"] == [DEPLOYMENT_CLUSTER_INDEX_DEFINITION]


def test_the_task_deployment_index_projects_exactly_what_a_deployment_summary_counts(template):
    assert code_constant_strings("TASK_DEPLOYMENT_INDEX") == [TASK_DEPLOYMENT_INDEX]
    assert code_constant_strings("TASK_DEPLOYMENT_INDEX_ATTRIBUTES") == TASK_DEPLOYMENT_INDEX_ATTRIBUTES
    task = table_resources(template)["task"][1]["Properties"]
    # The status index stays first and unchanged; the deployment index is added beside it (an
    # in-place update: one new index, no projection changed).
    assert [index["IndexName"] for index in task["GlobalSecondaryIndexes"]] == [TASK_STATUS_INDEX, TASK_DEPLOYMENT_INDEX]
    index = task["GlobalSecondaryIndexes"][1]
    assert index == {
        "IndexName": TASK_DEPLOYMENT_INDEX,
        "KeySchema": [{"AttributeName": "deploymentId", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": TASK_DEPLOYMENT_INDEX_ATTRIBUTES},
    }
    assert {"AttributeName": "deploymentId", "AttributeType": "S"} in task["AttributeDefinitions"]
    # Every index key is defined, and nothing else (CloudFormation refuses unused definitions).
    used = {"taskArn"} | {key["AttributeName"] for index in task["GlobalSecondaryIndexes"] for key in index["KeySchema"]}
    assert {definition["AttributeName"] for definition in task["AttributeDefinitions"]} == used


def test_the_state_tracker_writes_services_and_deployments_with_updateitem_only(template):
    tables = {role: name for role, (name, _) in table_resources(template).items()}
    assert dynamodb_grants(template, "state-tracker") == {
        ("dynamodb:PutItem", "${%s.Arn}" % tables["task"]),
        ("dynamodb:PutItem", "${%s.Arn}" % tables["instance"]),
        # One conditional UpdateItem per service action or deployment event; nothing read.
        ("dynamodb:UpdateItem", "${%s.Arn}" % tables["service"]),
        ("dynamodb:UpdateItem", "${%s.Arn}" % tables["deployment"]),
    }


def test_the_alerter_reads_services_deployments_and_tasks_exactly(template):
    tables = {role: name for role, (name, _) in table_resources(template).items()}
    service, deployment, task = ("${%s.Arn}" % tables[role] for role in ("service", "deployment", "task"))
    grants = {
        grant for grant in dynamodb_grants(template, "alerter")
        if any(grant[1].startswith(arn) for arn in (service, deployment, task))
    }
    assert grants == {
        # The health check: every service, one service, its health and incidents.
        ("dynamodb:Scan", service), ("dynamodb:GetItem", service), ("dynamodb:UpdateItem", service),
        # A deployment and a service's deployments (the table, by its key; not the cluster index).
        ("dynamodb:GetItem", deployment), ("dynamodb:Query", deployment),
        # A task, a service's running tasks, a deployment's tasks: the two indexes only, no Scan.
        ("dynamodb:GetItem", task),
        ("dynamodb:Query", "%s/index/%s" % (task, TASK_STATUS_INDEX)),
        ("dynamodb:Query", "%s/index/%s" % (task, TASK_DEPLOYMENT_INDEX)),
    }
    # Nothing on the container instance table; the listener touches no table.
    assert not [g for g in dynamodb_grants(template, "alerter") if tables["instance"] in g[1]]
    assert dynamodb_grants(template, "listener") == set()
    # The deployments are the state tracker's alone to write.
    for function in ("alerter", "reconciler", "listener"):
        assert not [g for g in dynamodb_grants(template, function) if g[1].startswith(deployment)
                    and g[0] not in ("dynamodb:GetItem", "dynamodb:Query")], function


def test_each_function_gets_the_service_tables_and_settings_it_reads(template):
    tables = {role: name for role, (name, _) in table_resources(template).items()}
    found = functions(template)
    variables = {
        function: template["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
        for function, name in found.items()
    }
    assert variables["state-tracker"]["SERVICE_TABLE"] == {"Ref": tables["service"]}
    assert variables["state-tracker"]["DEPLOYMENT_TABLE"] == {"Ref": tables["deployment"]}
    alerter = variables["alerter"]
    # SERVICE_TABLE set: the alerter watches services, and then needs the other two.
    assert alerter["SERVICE_TABLE"] == {"Ref": tables["service"]}
    assert alerter["DEPLOYMENT_TABLE"] == {"Ref": tables["deployment"]}
    assert alerter["TASK_TABLE"] == {"Ref": tables["task"]}
    assert variables["reconciler"]["SERVICE_TABLE"] == {"Ref": tables["service"]}
    assert "DEPLOYMENT_TABLE" not in variables["reconciler"], "the reconciler writes services, never deployments"
    if "Transform" in template:
        assert alerter["SILENCE_MINUTES"] == {"Ref": "SilenceMinutes"}
        assert alerter["EXPECTED_EXIT_CODES"] == {"Ref": "ExpectedExitCodes"}
        assert template["Parameters"]["SilenceMinutes"]["Default"] == "5"
        assert template["Parameters"]["ExpectedExitCodes"]["Default"] == "0"
    else:
        assert alerter["SILENCE_MINUTES"] == "5"
        assert alerter["EXPECTED_EXIT_CODES"] == "0"
    outputs = template["Outputs"]
    assert outputs["ServiceTableName"]["Value"] == {"Ref": tables["service"]}
    assert outputs["DeploymentTableName"]["Value"] == {"Ref": tables["deployment"]}


def test_the_every_minute_schedule_also_checks_the_services(template):
    # No new schedule: the digest flush tick runs the health check too.
    ((name, rule),) = [(name, rule) for name, rule in schedule_rules(template).items() if "DigestFlush" in name]
    assert "services" in rule["Properties"]["Description"], rule["Properties"]["Description"]
    assert len(schedule_rules(template)) == 2


SERVICE_PARAMETERS = {
    "SilenceMinutes": (["0", "1", "5", "59", "60", "999", "1000", "1399", "1439", "1440"],
                       ["", "-1", "1441", "2000", "2.5", "05", " 5", "5 ", "abc", "1e3"]),
    "ExpectedExitCodes": (["0", "3", "0,3", "1,2,255", "9,99,199,249,250", ",".join(str(c) for c in range(32))],
                          ["", "256", "300", "-1", "0,", ",0", "0,,3", "0, 3", "0 3", "03", "1.5", "x",
                           ",".join("0" for _ in range(33))]),
}


@pytest.mark.parametrize("parameter", sorted(SERVICE_PARAMETERS))
def test_sam_service_parameters_take_what_the_alerter_accepts(parameter):
    # The alerter parses SILENCE_MINUTES as whole minutes 0..1440 and EXPECTED_EXIT_CODES as 1 to
    # 32 codes 0..255; anything else would stop it at start-up, failing every invocation. A String
    # with a pattern (as for the retentions): a Number parameter would take 2.5.
    definition = load(SAM_TEMPLATE)["Parameters"][parameter]
    assert definition["Type"] == "String"
    assert definition["ConstraintDescription"]
    accepted, refused = SERVICE_PARAMETERS[parameter]
    pattern = re.compile(definition["AllowedPattern"])
    assert definition["Default"] in accepted
    for value in accepted:
        assert pattern.fullmatch(value), f"{parameter} refuses {value!r}"
    for value in refused:
        assert not pattern.fullmatch(value), f"{parameter} accepts {value!r}"


@pytest.mark.parametrize("setting, problem", [
    ('"severity": 3', "severity must be a string"),
    ('"expectedExitCodes": "0,3"', "expectedExitCodes must be an array of whole numbers"),
    ('"expectedExitCodes": [0.5]', "expectedExitCodes must be an array of whole numbers"),
    ('"expectedExitCodes": [true]', "expectedExitCodes must be an array of whole numbers"),
    ('"completed": 1', 'completed must be false, true or "only"'),
])
def test_sync_rules_takes_the_alerters_rule_settings_and_refuses_misshapen_ones(setting, problem):
    # Issue #24: severity, expectedExitCodes and completed are the alerter's (checked by value at
    # start-up), like "group": the SAM template carries them in ALERT_RULES, never in the pattern.
    import runpy
    validate = runpy.run_path(str(ROOT / "scripts" / "sync-rules"))["validate"]
    with pytest.raises(SystemExit, match=re.escape(problem)):
        validate(json.loads(f'[{{"name": "r", "pattern": {{"source": ["aws.ecs"]}}, {setting}}}]'), "rules.json")
    validate([{"name": "r", "pattern": {"source": ["aws.ecs"]}, "severity": "info",
               "expectedExitCodes": [0, 3], "completed": "only"},
              {"name": "s", "pattern": {"source": ["aws.ecs"]}, "completed": True, "severity": None}], "ok.json")


def test_sync_rules_leaves_room_in_the_alerters_4_kb_for_every_other_variable():
    # Lambda counts every variable's name and value against 4 KB. The others: ARNs and table names
    # (at most about 150 bytes each, as the CDK app counts them), SILENCE_MINUTES (at most 4),
    # EXPECTED_EXIT_CODES (at most 32 codes of up to 3 digits) and ACCOUNT_NAMES (at most the
    # AccountNames parameter's MaxLength, in bytes too as the pattern takes ASCII names only).
    import runpy
    sync_rules = runpy.run_path(str(ROOT / "scripts" / "sync-rules"))
    budget = sync_rules["MAX_RULES_BYTES"]
    template = load(SAM_TEMPLATE)
    names_length = template["Parameters"]["AccountNames"]["MaxLength"]
    assert names_length == sync_rules["MAX_ACCOUNT_NAMES_BYTES"] == 400
    variables = template["Resources"]["AlerterFunction"]["Properties"]["Environment"]["Variables"]
    assert set(variables) == ALLOWED_ENVIRONMENT["alerter"]
    longest = {"SILENCE_MINUTES": len("1440"), "EXPECTED_EXIT_CODES": len(",".join(["255"] * 32)),
               "ACCOUNT_NAMES": names_length, "ALERT_RULES": budget}
    total = sum(len(name) + longest.get(name, 150) for name in variables)
    # The rules' budget is all the others leave: it fits, and not a byte of it is lost.
    assert total == 4096, total
    for rules_file in (DEFAULT_RULES, EXAMPLE_RULES, ROOT / "rules" / "jobs.json"):
        sync_rules["validate"](json.loads(rules_file.read_text()), rules_file)


# ---------------------------------------------------------------- one stack for an organization (issue #25)

# What the organization option adds to the SAM stack, and where it may change today's resources.
ORGANIZATION_RESOURCES = {
    "CentralEventBus", "ForwardEcsEventsRole", "ForwardEcsEventsToCentralBus",
    "ForwardEcsEventsToCentralBusFailedInvocationsAlarm", "ForwardEcsEventsToCentralBusDeadLetterFailedAlarm",
}
ORGANIZATION_OUTPUTS = {"ReconcilerRoleArn", "CentralEventBusArn"}
READ_ROLE = "ecs-events-reader"


def differences(old, new, path=()):
    """The paths at which two JSON values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [p for key in sorted(set(old) | set(new), key=str)
                for p in differences(old.get(key, "<absent>"), new.get(key, "<absent>"), path + (key,))]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [p for index, (a, b) in enumerate(zip(old, new)) for p in differences(a, b, path + (index,))]
    return [] if old == new else [path]


def where_it_changes(path):
    """What a difference between the stack with and without the organization option may touch."""
    resource, *rest = path
    return (resource,) + tuple(rest[:2]) if rest[:1] == ["Properties"] else (resource,)


def test_sam_without_the_organization_parameters_the_stack_is_todays():
    # Neither OrganizationId nor MemberAccountIds (nor MemberRegions): exactly the single-account
    # stack. Nothing of the option exists, and with it only these resources and properties change.
    template = load(SAM_TEMPLATE)
    off = deployed(template)
    assert not ORGANIZATION_RESOURCES & set(off["Resources"]), "organization resources without the option"
    assert not ORGANIZATION_OUTPUTS & set(off["Outputs"])
    assert not resources(off, "AWS::Events::EventBus")
    for name, rule in resources(off, "AWS::Events::Rule").items():
        assert "EventBusName" not in rule["Properties"], name
        for target in rule["Properties"]["Targets"]:
            assert "RoleArn" not in target, name
    for name, role in resources(off, "AWS::IAM::Role").items():
        trusted = [s["Principal"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
        assert {"Service": "events.amazonaws.com"} not in trusted, name
        actions = {a for s in role_statements(off, name) for a in as_list(s["Action"])}
        assert not any(action.startswith("sts:") for action in actions), name
    variables = off["Resources"]["ReconcilerFunction"]["Properties"]["Environment"]["Variables"]
    assert not ORGANIZATION_VARIABLES & set(variables)
    allowed = {
        ("ReconcilerFunction", "Properties", "Environment"),
        ("ReconcilerRole", "Properties", "Policies"),
        ("EventsDeadLetterQueuePolicy", "Properties", "PolicyDocument"),
    } | {(rule, "Properties", "EventBusName") for rule in pattern_rules(off)} | {
        (alarm, "Properties", "Dimensions") for alarm in alarms_on(off, "AWS/Events", "FailedInvocations")
    } | {(alarm, "Properties", "Dimensions") for alarm in alarms_on(off, "AWS/Events", "InvocationsFailedToBeSentToDlq")}
    for mode, overrides in ORG_MODES.items():
        on = deployed(template, overrides | {"MemberRegions": "us-east-1,eu-west-1"})
        assert set(on["Resources"]) - set(off["Resources"]) == (ORGANIZATION_RESOURCES if mode != "off" else set()), mode
        assert set(off["Resources"]) <= set(on["Resources"]), mode
        changed = {where_it_changes((name,) + path)
                   for name in off["Resources"] for path in differences(off["Resources"][name], on["Resources"][name])}
        assert changed <= allowed, (mode, changed - allowed)


def central_bus_policy(overrides):
    template = load(SAM_TEMPLATE)
    resolved = deployed(template, overrides)
    (bus,) = resources(resolved, "AWS::Events::EventBus").values()
    parameters = parameter_values(template, overrides)
    assert value_of(bus["Properties"]["Name"], parameters) == "${AWS::StackName}-central"
    (statement,) = bus["Properties"]["Policy"]["Statement"]
    arn = "arn:aws:events:us-east-1:111111111111:event-bus/${AWS::StackName}-central"
    assert value_of(statement["Resource"], parameters) == arn
    assert statement["Effect"] == "Allow" and statement["Action"] == "events:PutEvents", statement
    condition = {operator: {key: value_of(values, parameters) for key, values in keys.items()}
                 for operator, keys in statement.get("Condition", {}).items()}
    principal = statement["Principal"]
    if isinstance(principal, dict):
        principal = {kind: value_of(value, parameters) for kind, value in principal.items()}
    return principal, condition


@pytest.mark.parametrize("mode", ["organization", "both"])
def test_sam_the_central_bus_takes_events_from_the_organizations_accounts_only(mode):
    # aws:PrincipalOrgID: any account of the organization, no other (with MemberAccountIds too, the
    # organization decides for the bus; the list is the reconciler's).
    principal, condition = central_bus_policy(ORG_MODES[mode])
    assert principal == "*"
    assert condition == {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}


def test_sam_the_central_bus_takes_events_from_the_listed_accounts_only():
    principal, condition = central_bus_policy(ORG_MODES["accounts"])
    assert principal == {"AWS": MEMBERS}
    assert condition == {}


@pytest.mark.parametrize("mode", ["organization", "accounts", "both"])
def test_sam_the_rules_are_on_the_central_bus_and_this_accounts_events_are_forwarded_to_it(mode):
    template = load(SAM_TEMPLATE)
    central = deployed(template, ORG_MODES[mode])
    (bus,) = event_buses(central)
    rules = pattern_rules(central)
    forward = "ForwardEcsEventsToCentralBus"
    # Every rule of the toolkit (all ECS events, each alert rule) listens on the central bus...
    for name, rule in rules.items():
        if name != forward:
            assert rule["Properties"]["EventBusName"] == {"Ref": bus}, name
    assert {"AllEcsEventsRule", "AlertRuleEssentialContainerExited"} <= set(rules)
    # ... and the one rule on this account's default bus hands it every ECS event, unchanged.
    properties = rules[forward]["Properties"]
    assert "EventBusName" not in properties
    assert properties["EventPattern"] == {"source": ["aws.ecs"]}
    (target,) = properties["Targets"]
    assert get_att(target["Arn"]) == (bus, "Arn")
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    assert get_att(target["DeadLetterConfig"]["Arn"]) == ("EventsDeadLetterQueue", "Arn")
    (role, _) = get_att(target["RoleArn"])
    trust = central["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    assert [(s["Effect"], as_list(s["Action"]), get_att(s["Resource"])) for s in role_statements(central, role)] == [
        ("Allow", ["events:PutEvents"], (bus, "Arn")),
    ]
    outputs = central["Outputs"]
    assert get_att(outputs["CentralEventBusArn"]["Value"]) == (bus, "Arn")
    assert get_att(outputs["ReconcilerRoleArn"]["Value"]) == (role_of(central, "ReconcilerFunction"), "Arn")


def assume_role(statements, parameters, account, role=READ_ROLE, organization=ORG_ID):
    """Whether the statements allow assuming `role` in `account` (of `organization`)."""
    context = {"aws:ResourceAccount": account, "aws:ResourceOrgID": organization}
    return allows(statements, parameters, "sts:AssumeRole", f"arn:aws:iam::{account}:role/{role}", context)


@pytest.mark.parametrize("mode", list(ORG_MODES))
def test_sam_the_reconciler_assumes_the_read_role_of_the_member_accounts_only(mode):
    template = load(SAM_TEMPLATE)
    statements, parameters = reconciler_ecs_grants(template, ORG_MODES[mode])
    sts = [s for s in statements if any(a.startswith("sts:") for a in as_list(s["Action"]))]
    if mode == "off":
        assert sts == [], "no role of another account without the option"
        return
    (statement,) = sts
    assert statement["Action"] == "sts:AssumeRole"
    listed = mode in ("accounts", "both")
    in_org = mode in ("organization", "both")
    for account in MEMBERS:
        assert assume_role(statements, parameters, account), (mode, account)
        assert not assume_role(statements, parameters, account, role="Admin"), (mode, account)
        assert not assume_role(statements, parameters, account, role=READ_ROLE + "2"), (mode, account)
        assert assume_role(statements, parameters, account, organization="o-other00000") == (not in_org), mode
    # An account of the organization that is not listed: only without a list.
    assert assume_role(statements, parameters, "444444444444") == (not listed), mode
    # The role name is the stack's MemberReadRoleName.
    renamed = parameter_values(template, ORG_MODES[mode] | {"MemberReadRoleName": "reader"})
    assert assume_role(statements, renamed, MEMBERS[0], role="reader")
    assert not assume_role(statements, renamed, MEMBERS[0])


@pytest.mark.parametrize("overrides, wanted", [
    ({}, {}),
    (ORG_MODES["organization"], {"MEMBER_ROLE_NAME": READ_ROLE}),
    (ORG_MODES["accounts"], {"MEMBER_ACCOUNTS": ",".join(MEMBERS), "MEMBER_ROLE_NAME": READ_ROLE}),
    (ORG_MODES["both"] | {"MemberReadRoleName": "reader", "MemberRegions": "us-east-1, eu-west-1"},
     {"MEMBER_ACCOUNTS": ",".join(MEMBERS), "MEMBER_ROLE_NAME": "reader", "RECONCILE_REGIONS": "us-east-1,eu-west-1"}),
    ({"MemberRegions": "eu-west-1"}, {"RECONCILE_REGIONS": "eu-west-1"}),
])
def test_sam_the_reconciler_is_told_the_member_accounts_role_and_regions(overrides, wanted):
    # The contract with functions/reconciler: MEMBER_ACCOUNTS (12-digit ids, comma-separated),
    # MEMBER_ROLE_NAME, RECONCILE_REGIONS (comma-separated); each unset without its parameter (its
    # own account, its own Region).
    template = load(SAM_TEMPLATE)
    variables = deployed(template, overrides)["Resources"]["ReconcilerFunction"]["Properties"]["Environment"]["Variables"]
    parameters = parameter_values(template, overrides)
    told = {name: value_of(variables[name], parameters) for name in ORGANIZATION_VARIABLES & set(variables)}
    assert told == wanted


def test_sam_with_member_regions_the_reconciler_reads_its_own_account_in_those_regions_only():
    template = load(SAM_TEMPLATE)
    for named in ([], ["prod"]):
        overrides = {"MemberRegions": "us-east-1,eu-west-1"} | ({"ReconcileClusters": "prod"} if named else {})
        statements, parameters = reconciler_ecs_grants(template, overrides)
        for action in ECS_READS:
            for region in ("us-east-1", "eu-west-1"):
                assert allows(statements, parameters, action, *ecs_request(action, "prod", region)), (action, region)
            assert not allows(statements, parameters, action, *ecs_request(action, "prod", "ap-south-1")), action
            if named:
                assert not allows(statements, parameters, action, *ecs_request(action, "staging", "eu-west-1")), action
        assert allows(statements, parameters, "ecs:ListClusters", "*", {"aws:RequestedRegion": "eu-west-1"}) == (not named)
        # Still the stack's account only: another account's services are not described.
        context = {"aws:RequestedRegion": "eu-west-1", "ecs:cluster": "arn:aws:ecs:eu-west-1:111111111111:cluster/prod"}
        assert not allows(statements, parameters, "ecs:DescribeServices",
                          "arn:aws:ecs:eu-west-1:222222222222:service/prod/web", context)


ORGANIZATION_PARAMETERS = {
    "OrganizationId": (["", "o-a1b2c3d4e5", "o-" + "a" * 32], ["o-", "o-ABCDEFGHIJ", "r-a1b2c3d4e5", "a1b2c3d4e5", " o-a1b2c3d4e5"]),
    # Each item of the list (CloudFormation trims the items).
    "MemberAccountIds": (["", "222222222222"], ["2222", "2222222222222", "acct-1", "arn:aws:iam::222222222222:root"]),
    "MemberRegions": (["", "us-east-1", "eu-central-2", "us-gov-west-1", "ap-southeast-4"], ["useast1", "US-EAST-1", "us-east", "*"]),
    "MemberReadRoleName": (["ecs-events-reader", "reader", "a" * 64], ["", "a" * 65, "role/reader", "my reader"]),
}


@pytest.mark.parametrize("parameter", sorted(ORGANIZATION_PARAMETERS))
def test_sam_organization_parameters_take_ids_regions_and_role_names_only(parameter):
    definition = load(SAM_TEMPLATE)["Parameters"][parameter]
    assert definition["ConstraintDescription"]
    accepted, refused = ORGANIZATION_PARAMETERS[parameter]
    pattern = re.compile(definition["AllowedPattern"])
    assert definition["Default"] in accepted
    for value in accepted:
        assert pattern.fullmatch(value), f"{parameter} refuses {value!r}"
    for value in refused:
        assert not pattern.fullmatch(value), f"{parameter} accepts {value!r}"


# ---------------------------------------------------------------- names of accounts

NAMES = "111122223333=prod-eu,444455556666=staging"
MAX_NAME_CHARS = 64  # shared/src/account.rs MAX_NAME_CHARS


def alerter_accepts_account_names(text):
    """Whether the alerter starts with this ACCOUNT_NAMES: shared/src/account.rs AccountNames::parse,
    rule for rule (entries split at commas, blank ones skipped, id and name trimmed; a 12-digit id
    named once; a name of 1 to 64 characters without a control character or "=", used once, ASCII
    case aside)."""
    ids, names = set(), set()
    for entry in text.split(","):
        if not entry.strip():
            continue
        if "=" not in entry:
            return False
        account, name = (part.strip() for part in entry.split("=", 1))
        if not (len(account) == 12 and all("0" <= c <= "9" for c in account)):
            return False
        control = any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name)
        if not 1 <= len(name) <= MAX_NAME_CHARS or control or "=" in name:
            return False
        folded = "".join(c.lower() if "A" <= c <= "Z" else c for c in name)
        if account in ids or folded in names:
            return False
        ids.add(account)
        names.add(folded)
    return True


def account_names_pattern():
    definition = load(SAM_TEMPLATE)["Parameters"]["AccountNames"]
    return definition, re.compile(definition["AllowedPattern"])


# Values the AccountNames pattern takes, and values it refuses: malformed (the alerter would not
# start) or, marked stricter, taken by the alerter but refused here so that MaxLength holds in bytes
# and one form is documented.
ACCOUNT_NAMES_ACCEPTED = [
    "", "111122223333=prod-eu", NAMES, "111122223333=Prod EU,444455556666=a",
    "111122223333=prod,444455556666=prod-eu", "111122223333=a1,444455556666=1",
    "111122223333=" + "n" * MAX_NAME_CHARS, "111122223333=a.b_c (x)!~",
]
ACCOUNT_NAMES_REFUSED = [
    "111122223333", "111122223333=", "11112222333=a", "1111222233334=a", "prod-eu=111122223333",
    "111122223333:prod", "111122223333=a=b", "111122223333=" + "n" * (MAX_NAME_CHARS + 1),
    "111122223333=prod,444455556666=PROD", "111122223333=prod,111122223333=other",
    "111122223333=a,444455556666=b,111122223333=c", "111122223333=a,444455556666=b,777788889999=B",
    "111122223333=a\tb", "111122223333=a\x85b",
]
ACCOUNT_NAMES_STRICTER = [
    "111122223333=a,", ",111122223333=a", "111122223333=a,,444455556666=b", "111122223333=a, 444455556666=b",
    "111122223333 =a", "111122223333= a", "111122223333=a ", "111122223333=zürich",
]


def test_sam_account_names_parameter_takes_what_the_alerter_accepts_and_refuses_a_malformed_map():
    definition, pattern = account_names_pattern()
    assert definition["Type"] == "String" and definition["Default"] == ""
    assert "111122223333=prod-eu" in definition["ConstraintDescription"]
    for value in ACCOUNT_NAMES_ACCEPTED:
        assert pattern.fullmatch(value), f"refuses {value!r}"
        assert alerter_accepts_account_names(value), value
    for value in ACCOUNT_NAMES_REFUSED:
        assert not pattern.fullmatch(value), f"accepts {value!r}"
        assert not alerter_accepts_account_names(value), value
    for value in ACCOUNT_NAMES_STRICTER:
        assert not pattern.fullmatch(value), f"accepts {value!r}"
        assert alerter_accepts_account_names(value), value


def test_sam_account_names_pattern_never_takes_what_the_alerter_refuses():
    # Random maps and near misses (ids repeated or short, names repeated in another case, blank,
    # too long, with "=", a control or a non-ASCII letter, blanks and empty entries): whatever the
    # pattern takes, the alerter starts with.
    import random
    _, pattern = account_names_pattern()
    rng = random.Random(25)
    ids = ["111122223333", "444455556666", "777788889999", "11112222333"]
    names = ["a", "A", "ab", "b", "B", "a b", " a", "b ", "é", "a\x01", "x=y", "", "n" * 64, "n" * 65, "N" * 64]
    separators = ["=", "=", " =", "= ", ""]
    joins = [",", ",", ",", ", ", ",,"]
    taken = refused = 0
    for _ in range(20000):
        entries = [rng.choice(ids) + rng.choice(separators) + rng.choice(names) for _ in range(rng.randint(1, 4))]
        value = entries[0] + "".join(rng.choice(joins) + entry for entry in entries[1:])
        if pattern.fullmatch(value):
            taken += 1
            assert alerter_accepts_account_names(value), repr(value)
        else:
            refused += 1
    assert taken > 500 and refused > 500, (taken, refused)


def test_sam_account_names_pattern_means_the_same_in_java_as_here(tmp_path):
    # CloudFormation evaluates AllowedPattern with java.util.regex (lookaheads, backreferences and
    # (?i:...) included), these tests with Python's re: both must take and refuse the same values.
    import shutil
    import subprocess
    if shutil.which("java") is None:
        pytest.skip("no java")
    definition, pattern = account_names_pattern()
    values = ACCOUNT_NAMES_ACCEPTED + ACCOUNT_NAMES_REFUSED + ACCOUNT_NAMES_STRICTER
    (tmp_path / "pattern.txt").write_text(definition["AllowedPattern"], encoding="utf-8")
    (tmp_path / "values.json").write_text(json.dumps(values), encoding="utf-8")
    source = tmp_path / "Match.java"
    source.write_text("""
import java.nio.file.*; import java.util.regex.*;
public class Match { public static void main(String[] args) throws Exception {
  Pattern p = Pattern.compile(Files.readString(Path.of(args[0])));
  for (String line : Files.readAllLines(Path.of(args[1]))) System.out.println(p.matcher(line).matches());
}}
""")
    # One value a line, as Java reads them back (no value holds a line break).
    assert not any("\n" in value or "\r" in value for value in values)
    (tmp_path / "values.txt").write_text("\n".join(values) + "\n", encoding="utf-8")
    result = subprocess.run(["java", str(source), str(tmp_path / "pattern.txt"), str(tmp_path / "values.txt")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    java = [line == "true" for line in result.stdout.splitlines()]
    assert java == [bool(pattern.fullmatch(value)) for value in values], list(zip(values, java))


@pytest.mark.parametrize("overrides, wanted", [({}, None), ({"AccountNames": NAMES}, NAMES)])
def test_sam_account_names_reach_the_alerter_only_and_only_when_given(overrides, wanted):
    template = load(SAM_TEMPLATE)
    parameters = parameter_values(template, overrides)
    resolved = deployed(template, overrides)["Resources"]
    for function, name in functions(template).items():
        variables = resolved[name]["Properties"].get("Environment", {}).get("Variables", {})
        if function == "alerter" and wanted is not None:
            assert value_of(variables["ACCOUNT_NAMES"], parameters) == wanted
        else:
            assert "ACCOUNT_NAMES" not in variables, function
    # Nothing else reads the parameter: its one use is the alerter's variable (and its condition).
    uses = re.findall(r'\{"Ref": "AccountNames"\}', json.dumps(template["Resources"]))
    assert len(uses) == 1, uses
    alerter = template["Resources"]["AlerterFunction"]["Properties"]["Environment"]["Variables"]
    assert alerter["ACCOUNT_NAMES"] == {"Fn::If": ["HasAccountNames", {"Ref": "AccountNames"}, {"Ref": "AWS::NoValue"}]}


def test_cdk_synth_without_account_names_sets_no_account_names():
    # `npm run synth` gives no accountNames: no function has ACCOUNT_NAMES (the CDK assertions test
    # covers a stack with names).
    template = load(CDK_TEMPLATE)
    for function, name in functions(template).items():
        variables = template["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
        assert "ACCOUNT_NAMES" not in variables, function


# ---------------------------------------------------------------- the member template (issue #25)

CENTRAL_BUS_ARN = "arn:aws:events:us-east-1:111111111111:event-bus/ecs-events-central"
CENTRAL_ROLE_ARN = "arn:aws:iam::111111111111:role/ecs-events-ReconcilerRole-AbCdEf"
MEMBER_PARAMETERS = {"CentralEventBusArn": CENTRAL_BUS_ARN, "CentralReconcilerRoleArn": CENTRAL_ROLE_ARN}


def member(overrides=None):
    template = load(MEMBER_TEMPLATE)
    overrides = MEMBER_PARAMETERS | dict(overrides or {})
    return deployed(template, overrides), parameter_values(template, overrides)


def test_member_template_is_plain_cloudformation_for_stacksets():
    template = load(MEMBER_TEMPLATE)
    assert "Transform" not in template, "StackSets deploy no SAM transform"
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert "Default" not in template["Parameters"]["CentralEventBusArn"], "the bus must be given"
    assert set(template["Parameters"]) == {"CentralEventBusArn", "CentralReconcilerRoleArn", "ReadRoleName", "ReadRoleRegion"}


def test_member_forwards_every_ecs_event_to_the_central_bus_only():
    resolved, parameters = member()
    (name,) = pattern_rules(resolved)
    properties = resolved["Resources"][name]["Properties"]
    assert "EventBusName" not in properties, "the default bus: where ECS puts its events"
    assert properties["EventPattern"] == {"source": ["aws.ecs"]}
    (target,) = properties["Targets"]
    assert value_of(target["Arn"], parameters) == CENTRAL_BUS_ARN
    assert not {"Input", "InputPath", "InputTransformer", "RetryPolicy"} & set(target)
    # What EventBridge cannot deliver waits in the member's own DLQ, which trusts only this rule.
    (dlq, _) = get_att(target["DeadLetterConfig"]["Arn"])
    assert resolved["Resources"][dlq]["Properties"]["SqsManagedSseEnabled"] is True
    assert resolved["Resources"][dlq]["Properties"]["MessageRetentionPeriod"] == 1209600
    assert_the_events_dlq_trusts_exactly_the_rules_that_dead_letter_into_it(resolved)
    (role, _) = get_att(target["RoleArn"])
    properties = resolved["Resources"][role]["Properties"]
    assert "RoleName" not in properties, "one forwarding role per Region: generated names"
    assert properties["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sts:AssumeRole"},
    ]
    statements = role_statements(resolved, role)
    assert [(s["Effect"], as_list(s["Action"]), value_of(s["Resource"], parameters)) for s in statements] == [
        ("Allow", ["events:PutEvents"], CENTRAL_BUS_ARN),
    ]


def reconciler_ecs_calls():
    """The ECS API calls of the reconciler (shared/src/reconcile/ecs_api.rs), as IAM actions."""
    return {f"ecs:{call}" for call in re.findall(r'request_error\("([A-Za-z]+)"', ECS_API_SOURCE.read_text())}


def read_role(overrides=None):
    resolved, parameters = member(overrides)
    roles = {name: role for name, role in resources(resolved, "AWS::IAM::Role").items()
             if role["Properties"].get("RoleName") is not None}
    return resolved, parameters, roles


def test_member_read_role_trusts_exactly_the_central_reconciler_role():
    resolved, parameters, roles = read_role()
    ((name, role),) = roles.items()
    properties = role["Properties"]
    assert value_of(properties["RoleName"], parameters) == READ_ROLE
    assert not properties.get("ManagedPolicyArns"), "no managed policies"
    (trust,) = properties["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRole"
    assert {kind: value_of(value, parameters) for kind, value in trust["Principal"].items()} == {"AWS": CENTRAL_ROLE_ARN}
    assert "Condition" not in trust
    assert value_of(read_role({"ReadRoleName": "reader"})[2][name]["Properties"]["RoleName"],
                    parameter_values(load(MEMBER_TEMPLATE), MEMBER_PARAMETERS | {"ReadRoleName": "reader"})) == "reader"


def test_member_read_role_allows_only_the_reconcilers_ecs_reads_in_its_account():
    calls = reconciler_ecs_calls()
    # What the reconciler calls today (verified against the source, not copied from it).
    assert calls == set(ECS_READS) | {"ecs:ListClusters"}, calls
    resolved, parameters, roles = read_role()
    ((name, _),) = roles.items()
    statements = role_statements(resolved, name)
    granted = {action for s in statements for action in as_list(s["Action"])}
    assert granted == calls, granted ^ calls
    member_account = PSEUDO["AWS::AccountId"]
    for action in ECS_READS:
        for region in ("us-east-1", "eu-west-1"):  # the role is global: every Region the central stack reads
            assert allows(statements, parameters, action, *ecs_request(action, "prod", region)), (action, region)
    assert allows(statements, parameters, "ecs:ListClusters", "*", {})
    # Nothing of another account (a cluster condition naming one, a service of one) and no writes.
    other = {"ecs:cluster": "arn:aws:ecs:us-east-1:999999999999:cluster/prod"}
    for action in ("ecs:ListTasks", "ecs:DescribeTasks", "ecs:DescribeContainerInstances", "ecs:ListServices"):
        assert not allows(statements, parameters, action, "*", other), action
    assert not allows(statements, parameters, "ecs:DescribeServices",
                      "arn:aws:ecs:us-east-1:999999999999:service/prod/web", other)
    assert not allows(statements, parameters, "ecs:DescribeClusters", "arn:aws:ecs:us-east-1:999999999999:cluster/prod", {})
    for action in ("ecs:StopTask", "ecs:UpdateService", "ecs:RunTask", "ecs:TagResource", "ecs:ExecuteCommand",
                   "ecs:ListTagsForResource", "ecs:DescribeTaskDefinition", "iam:PassRole", "logs:GetLogEvents"):
        context = {"ecs:cluster": f"arn:aws:ecs:us-east-1:{member_account}:cluster/prod"}
        assert not allows(statements, parameters, action, "*", context), action
    # Resource "*" only where IAM has no narrower resource: the List calls without a resource type
    # (ListClusters, ListServices) and, held to this account's clusters by ecs:cluster, ListTasks
    # and the task and instance descriptions (see the template's comment).
    for statement in statements:
        if statement["Resource"] == "*":
            actions = set(as_list(statement["Action"]))
            assert actions <= {"ecs:ListClusters", "ecs:ListServices", "ecs:ListTasks", "ecs:DescribeTasks",
                               "ecs:DescribeContainerInstances"}, actions
            if actions != {"ecs:ListClusters"}:
                assert value_of(statement["Condition"]["ArnLike"]["ecs:cluster"], parameters) == \
                    f"arn:aws:ecs:*:{member_account}:cluster/*", statement


@pytest.mark.parametrize("overrides, created", [
    ({}, True),  # a single stack: here
    ({"ReadRoleRegion": "us-east-1"}, True),  # the stack (StackSet instance) in the role's Region
    ({"ReadRoleRegion": "eu-west-1"}, False),  # another Region of the account has it
    ({"CentralReconcilerRoleArn": ""}, False),  # events only, no reading
    ({"CentralReconcilerRoleArn": "", "ReadRoleRegion": "us-east-1"}, False),
])
def test_member_read_role_is_created_once_and_only_for_a_reconciler(overrides, created):
    # The stack's Region is PSEUDO's us-east-1; every instance of a StackSet gets the same values.
    resolved, _, roles = read_role(overrides)
    assert bool(roles) == created
    assert ("ReadRoleArn" in resolved["Outputs"]) == created
    assert len(pattern_rules(resolved)) == 1, "every stack instance forwards its Region's events"


MEMBER_PARAMETER_VALUES = {
    "CentralEventBusArn": (
        [CENTRAL_BUS_ARN, "arn:aws-cn:events:cn-north-1:111111111111:event-bus/x", "arn:aws:events:eu-west-1:111111111111:event-bus/a.b_c-d"],
        ["", "ecs-events-central", "arn:aws:events:us-east-1:111111111111:rule/x", "arn:aws:sqs:us-east-1:111111111111:q",
         "arn:aws:events:us-east-1:1111:event-bus/x"],
    ),
    "CentralReconcilerRoleArn": (
        ["", CENTRAL_ROLE_ARN, "arn:aws:iam::111111111111:role/path/name"],
        ["111111111111", "arn:aws:iam::111111111111:user/x", "arn:aws:sts::111111111111:assumed-role/r/s", "role/x"],
    ),
    "ReadRoleName": (["ecs-events-reader", "reader"], ["", "a" * 65, "role/reader"]),
    "ReadRoleRegion": (["", "us-east-1", "eu-central-2"], ["us", "US-EAST-1", "*", "us-east-1,eu-west-1"]),
}


@pytest.mark.parametrize("parameter", sorted(MEMBER_PARAMETER_VALUES))
def test_member_parameters_take_arns_and_names_only(parameter):
    definition = load(MEMBER_TEMPLATE)["Parameters"][parameter]
    assert definition["ConstraintDescription"]
    accepted, refused = MEMBER_PARAMETER_VALUES[parameter]
    pattern = re.compile(definition["AllowedPattern"])
    for value in accepted:
        assert pattern.fullmatch(value), f"{parameter} refuses {value!r}"
    for value in refused:
        assert not pattern.fullmatch(value), f"{parameter} accepts {value!r}"
