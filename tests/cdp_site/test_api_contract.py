"""The REST API keeps the contract its OpenAPI description states, checked by Schemathesis.

Every check Schemathesis has, in all its phases (coverage, fuzzing, and the stateful phase that
chains create, read, change and delete through the links it infers), runs against a live server
on the test database, signed in as an admin with a token. A bounded number of examples per
operation and a fixed seed keep the run short and the same on every machine. Any failure fails
the test with the request that reproduces it: a server error, a response outside its schema, a
status the description does not list, a valid request refused or an invalid one accepted.
"""

import pytest
import schemathesis
from rest_framework.authtoken.models import Token
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

EXAMPLES_PER_OPERATION = 10
SEED = 15

# Operations whose input is checked against live data the description cannot state, so that a
# well-formed request may still be refused with 400 (always with the reason and the field):
# a connector's settings depend on its kind, a segment definition names fields of the
# catalogue, a data subject's e-mail or phone number must be one, an audience sync names a
# segment and a destination the caller may use, and consent names a configured purpose.
CHECKED_AGAINST_LIVE_DATA = (
    ("POST", "^/api/sources/$"),
    ("POST", "^/api/destinations/$"),
    ("POST|PUT|PATCH", "^/api/segments/"),
    ("POST", "^/api/compliance/requests/$"),
    ("POST|PUT|PATCH", "^/api/audience-syncs/"),
    ("POST", "^/api/compliance/profiles/"),
)


def _config(token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            # Nothing learnt by an earlier run: each run is the same run.
            "cache": {"enabled": False},
            "headers": {"Authorization": f"Token {token}"},
            "checks": {"enabled": True},
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                # Text with NUL is refused by every text field (PostgreSQL cannot store it).
                "allow-x00": False,
            },
            "phases": {"stateful": {"max-steps": 40}},
            "operations": [
                {
                    "include-method-regex": method,
                    "include-path-regex": path,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", 400, 401, 403, 404, 409, 429]
                        }
                    },
                }
                for method, path in CHECKED_AGAINST_LIVE_DATA
            ],
        }
    )


def _failures(event) -> list[str]:
    if isinstance(event, events.ScenarioFinished):
        found = []
        for case_id, checks in event.recorder.checks.items():
            for check in checks:
                if check.status != Status.FAILURE:
                    continue
                case = event.recorder.cases[case_id].value
                response = event.recorder.find_response(case_id=case_id)
                failure = check.failure_info.failure
                found.append(
                    f"{check.name}: {failure.title} ({case.method} {case.formatted_path})\n"
                    f"  {failure.message}\n"
                    f"  sent: {case.body!r:.300}\n"
                    f"  answer: {response.status_code if response else '-'} "
                    f"{response.text[:300] if response else ''}\n"
                    f"  {check.failure_info.code_sample}"
                )
        return found
    if isinstance(event, events.NonFatalError):
        return [f"error in {event.label}: {event.value!r}"]
    if isinstance(event, events.FatalError):
        return [f"schemathesis stopped: {event.exception!r}"]
    return []


@pytest.mark.django_db(transaction=True)
def test_the_api_keeps_its_contract(live_server, superuser):
    token = Token.objects.create(user=superuser).key
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", config=_config(token)
    )
    failures, phases, cases = [], {}, 0
    for event in schemathesis.engine.from_schema(schema).execute():
        failures.extend(_failures(event))
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
        if isinstance(event, events.PhaseFinished):
            phases[event.phase.name.value] = event.status
    # The run did test: every phase that generates requests ran, and sent many of them.
    assert {"coverage", "fuzzing", "stateful"} <= set(phases), phases
    assert cases > 300, cases
    report = "\n\n".join(sorted(set(failures)))
    assert not failures, f"{len(failures)} contract failures:\n\n{report}"
