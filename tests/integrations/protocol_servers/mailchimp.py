"""A Mailchimp Marketing API 3.0 stand-in: lists, batch subscribe, archive, permanent delete.

Auth is HTTP Basic with any user name and the API key as password. Errors use Mailchimp's
`application/problem+json` shape. Batch subscribe follows the documented rules: at most 500
members, `update_existing: true` updates existing members' merge fields and keeps their status,
new members get `status_if_new`, and per-member refusals are listed in `errors` of a 200 answer.
A permanently deleted address cannot be imported again, as in Mailchimp.
"""

import base64
import hashlib
import re
from dataclasses import dataclass, field

from tests.integrations.protocol_servers.scripted import Reply, Request, ScriptedServer

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MEMBER_PATH = re.compile(r"^/3\.0/lists/([^/]+)/members/([0-9a-f]{32})$")
DELETE_PATH = re.compile(r"^/3\.0/lists/([^/]+)/members/([0-9a-f]{32})/actions/delete-permanent$")
LIST_PATH = re.compile(r"^/3\.0/lists/([^/]+)$")


def member_hash(email: str) -> str:
    return hashlib.md5(email.lower().encode(), usedforsecurity=False).hexdigest()


def problem(status: int, title: str, detail: str) -> Reply:
    body = {
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "00000000-0000-0000-0000-000000000000",
    }
    return Reply(status, body, {"Content-Type": "application/problem+json"})


@dataclass
class MailchimpList:
    name: str
    members: dict[str, dict] = field(default_factory=dict)  # subscriber hash -> member
    forgotten: set[str] = field(default_factory=set)  # hashes deleted permanently

    def statuses(self) -> dict[str, str]:
        """e-mail -> status, for assertions."""
        return {m["email_address"].lower(): m["status"] for m in self.members.values()}


class MailchimpServer(ScriptedServer):
    def __init__(self, api_key: str = "0123456789abcdef-us6", **kwargs):
        super().__init__(**kwargs)
        self.api_key = api_key
        self.lists: dict[str, MailchimpList] = {"list1": MailchimpList("Newsletter")}
        # e-mails this server refuses, with the refusal: a stand-in for Mailchimp's compliance
        # checks ("signed up to a lot of lists very recently").
        self.refuse: dict[str, str] = {}

    def error_body(self, status: int) -> object:
        return {"title": "Scripted", "status": status, "detail": f"scripted failure {status}"}

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            _, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return password == self.api_key

    def handle(self, request: Request) -> Reply:
        if not self._authorised(request):
            return problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        for pattern, method, action in (
            (DELETE_PATH, "POST", self._delete_permanent),
            (MEMBER_PATH, "DELETE", self._archive),
            (LIST_PATH, "POST", self._batch),
            (LIST_PATH, "GET", self._list_info),
        ):
            match = pattern.match(request.path)
            if match and request.method == method:
                mailchimp_list = self.lists.get(match.group(1))
                if mailchimp_list is None:
                    return problem(
                        404, "Resource Not Found", "The requested resource could not be found."
                    )
                return action(mailchimp_list, request, *match.groups()[1:])
        return problem(404, "Resource Not Found", "The requested resource could not be found.")

    def _list_info(self, mailchimp_list: MailchimpList, request: Request) -> Reply:
        subscribed = sum(m["status"] == "subscribed" for m in mailchimp_list.members.values())
        return Reply(200, {"name": mailchimp_list.name, "stats": {"member_count": subscribed}})

    def _batch(self, mailchimp_list: MailchimpList, request: Request) -> Reply:
        try:
            body = request.json()
            members = body["members"]
        except (ValueError, KeyError, TypeError):
            return problem(
                400, "Invalid Resource", "The resource submitted could not be validated."
            )
        if len(members) > 500:
            return problem(400, "Invalid Resource", "Up to 500 members may be sent at once.")
        created, updated, errors = [], [], []
        for member in members:
            email = str(member.get("email_address") or "")
            key = member_hash(email)
            reason = self.refuse.get(email.lower())
            if not EMAIL.match(email):
                reason = f"{email} looks fake or invalid, please enter a real email address."
            elif key in mailchimp_list.forgotten:
                reason = f"{email} was permanently deleted and cannot be re-imported."
            if reason:
                errors.append({"email_address": email, "error": reason, "error_code": "ERROR"})
                continue
            current = mailchimp_list.members.get(key)
            if current is None or current["status"] == "archived":
                status = member.get("status_if_new") or member.get("status") or "subscribed"
                current = {"email_address": email, "status": status, "merge_fields": {}}
                mailchimp_list.members[key] = current
                created.append(current)
            elif not body.get("update_existing"):
                errors.append(
                    {"email_address": email, "error": "Member Exists", "error_code": "ERROR"}
                )
                continue
            else:
                updated.append(current)
            current["merge_fields"].update(member.get("merge_fields") or {})
        return Reply(
            200,
            {
                "new_members": created,
                "updated_members": updated,
                "errors": errors,
                "total_created": len(created),
                "total_updated": len(updated),
                "error_count": len(errors),
            },
        )

    def _archive(self, mailchimp_list: MailchimpList, request: Request, key: str) -> Reply:
        member = mailchimp_list.members.get(key)
        if member is None or member["status"] == "archived":
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        member["status"] = "archived"
        return Reply(204)

    def _delete_permanent(self, mailchimp_list: MailchimpList, request: Request, key: str):
        if mailchimp_list.members.pop(key, None) is None:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        mailchimp_list.forgotten.add(key)
        return Reply(204)
