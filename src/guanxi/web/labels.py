"""Words the console shows for codes: statuses, reasons, targets, roles (translated when shown)."""

from __future__ import annotations

from guanxi.i18n import N_

IMPORT_STATUSES = {
    "pending": N_("Waiting for a worker"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
    "cancelled": N_("Cancelled: nothing it imported remains"),
}
COUNTS = {
    "rows": N_("Rows read"),
    "created": N_("Contacts created"),
    "updated": N_("Contacts updated"),
    "skipped": N_("Rows skipped"),
    "merged": N_("Contacts merged"),
    "problems": N_("Rows with problems"),
    "accounts_created": N_("Accounts created"),
}
PROBLEMS = {
    "invalid_phone": N_("Invalid phone number"),
    "invalid_email": N_("Invalid email address"),
    "invalid_value": N_("Invalid value"),
    "unknown_account": N_("Unknown account"),
    "unknown_owner": N_("Unknown owner"),
    "unknown_stage": N_("Unknown lifecycle stage"),
    "duplicate": N_("Duplicate"),
    "matches_several": N_("Matches several contacts"),
    "identity_conflict": N_("Identity conflict"),
    "missing_identity": N_("No phone, email or other identity"),
    "missing_required": N_("A required field is empty"),
    "undecodable_text": N_("Unreadable characters"),
}
TARGETS = {
    "ignore": N_("(ignore)"),
    "name": N_("Name"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "title": N_("Title"),
    "gender": N_("Gender"),
    "city": N_("City"),
    "province": N_("Province"),
    "country": N_("Country"),
    "language": N_("Language"),
    "source": N_("Source"),
    "stage": N_("Stage"),
    "owner": N_("Owner (member's email)"),
    "account.name": N_("Company"),
    "account.domain": N_("Company domain"),
    "account.role": N_("Role at the company"),
    "account.title": N_("Title at the company"),
    "identity.wechat_unionid": N_("WeChat unionid"),
    "identity.whatsapp": N_("WhatsApp number"),
    "identity.anonymous_id": N_("Web visitor id"),
}
COMMITTEE_ROLES = {
    "decision_maker": N_("Decision maker"),
    "influencer": N_("Influencer"),
    "user": N_("User"),
    "procurement": N_("Procurement"),
    "champion": N_("Champion"),
}
GENDERS = {
    "female": N_("Female"),
    "male": N_("Male"),
    "other": N_("Other"),
    "unknown": N_("Unknown"),
}
