"""E-mail texts, in the tenant's language (en, ru)."""
from __future__ import annotations

import datetime as dt

from ..inapp.actions import ROLE_NAMES

INVITATION = {
    "en": {
        "subject": "{inviter} invites you to {lab} on VO2max Report",
        "body": (
            "Hello,\n\n"
            "{inviter} invites you to join {lab} on VO2max Report as {role}.\n\n"
            "Accept the invitation:\n{url}\n\n"
            "The link works once and expires on {expires}.\n"
            "If you did not expect this invitation, ignore this message.\n\n"
            "— VO2max Report\n"
        ),
    },
    "ru": {
        "subject": "{inviter} приглашает вас в {lab} в VO2max Report",
        "body": (
            "Здравствуйте!\n\n"
            "{inviter} приглашает вас в {lab} в VO2max Report с ролью «{role}».\n\n"
            "Принять приглашение:\n{url}\n\n"
            "Ссылка одноразовая и действует до {expires}.\n"
            "Если вы не ждали этого приглашения, просто проигнорируйте письмо.\n\n"
            "— VO2max Report\n"
        ),
    },
}


def _expiry(value: str, language: str) -> str:
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    return when.strftime("%d.%m.%Y %H:%M UTC" if language == "ru" else "%Y-%m-%d %H:%M UTC")


def invitation(data: dict) -> tuple[str, str, str]:
    """(language, subject, body) for identity.invitation.created data."""
    language = data.get("language") if data.get("language") in INVITATION else "en"
    texts = INVITATION[language]
    values = {
        "inviter": data.get("invited_by_name") or ("Коллега" if language == "ru" else "A colleague"),
        "lab": data["tenant_name"],
        "role": ROLE_NAMES[language].get(data["role"], data["role"]),
        "url": data["accept_url"],
        "expires": _expiry(data["expires_at"], language),
    }
    return language, texts["subject"].format(**values), texts["body"].format(**values)


PASSWORD_RESET = {
    "en": {
        "subject": "Reset your VO2max Report password",
        "body": (
            "Hello,\n\n"
            "someone (hopefully you) asked to reset the password of your VO2max Report account ({lab}).\n\n"
            "Choose a new password:\n{url}\n\n"
            "The link works once and expires on {expires}.\n"
            "If you did not ask for this, ignore this message: your password stays as it is.\n\n"
            "— VO2max Report\n"
        ),
    },
    "ru": {
        "subject": "Сброс пароля VO2max Report",
        "body": (
            "Здравствуйте!\n\n"
            "Кто-то (надеемся, вы) запросил сброс пароля вашей учётной записи VO2max Report ({lab}).\n\n"
            "Задайте новый пароль:\n{url}\n\n"
            "Ссылка одноразовая и действует до {expires}.\n"
            "Если вы не запрашивали сброс, просто проигнорируйте письмо: пароль останется прежним.\n\n"
            "— VO2max Report\n"
        ),
    },
}


def password_reset(data: dict) -> tuple[str, str, str]:
    """(language, subject, body) for identity.password.reset_requested data."""
    language = data.get("language") if data.get("language") in PASSWORD_RESET else "en"
    texts = PASSWORD_RESET[language]
    values = {"lab": data["tenant_name"], "url": data["reset_url"], "expires": _expiry(data["expires_at"], language)}
    return language, texts["subject"].format(**values), texts["body"].format(**values)
