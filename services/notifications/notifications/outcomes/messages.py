"""Texts of the notifications about a lab's work, in en and ru: (title, body) per kind, from named values."""
from __future__ import annotations

TEXTS = {
    "import.done": {
        "en": ("Import done: {athlete}", "The test of {athlete} ({test}) from {file} is imported and analysed.\n{link}"),
        "ru": ("Импорт завершён: {athlete}", "Тест {athlete} ({test}) из файла {file} импортирован и обработан.\n{link}"),
    },
    "import.failed": {
        "en": ("Import failed: {athlete}", "The file {file} for {athlete} could not be imported ({stage}): {reason}\n"
                                           "{link}"),
        "ru": ("Импорт не удался: {athlete}", "Файл {file} для {athlete} не удалось импортировать ({stage}): "
                                              "{reason}\n{link}"),
    },
    "analysis.changed": {
        "en": ("Analysis changed: {athlete}", "{who} changed the analysis of the test of {athlete} ({test}); "
                                              "revision {revision}.\n{link}"),
        "ru": ("Анализ изменён: {athlete}", "{who} изменил(а) анализ теста {athlete} ({test}); версия {revision}.\n"
                                            "{link}"),
    },
    "report.ready": {
        "en": ("Report ready: {athlete}", "The PDF report for {athlete} ({test}) is ready.\n{link}"),
        "ru": ("Отчёт готов: {athlete}", "PDF-отчёт для {athlete} ({test}) готов.\n{link}"),
    },
    "report.failed": {
        "en": ("Report failed: {athlete}", "The PDF report for {athlete} ({test}) could not be made: {reason}\n{link}"),
        "ru": ("Отчёт не создан: {athlete}", "PDF-отчёт для {athlete} ({test}) не удалось создать: {reason}\n{link}"),
    },
    "webhook.disabled": {
        "en": ("Webhook endpoint disabled", "Deliveries to {url} failed for the whole retry schedule, so the endpoint "
                                            "was disabled. Fix the receiver and enable it again.\n{link}"),
        "ru": ("Вебхук отключён", "Доставка на {url} не удавалась в течение всего расписания повторов, адрес "
                                  "отключён. Исправьте приёмник и включите его снова.\n{link}"),
    },
    "event.dead_lettered": {
        "en": ("A change could not be processed by {service}", "The {service} service gave up on the event {type} "
               "({event_id}) after {deliveries} attempts: part of your lab's data may be out of date there. An "
               "operator can replay it once the cause is fixed (manage.py dead_letters replay)."),
        "ru": ("Сервис {service} не смог обработать изменение", "Сервис {service} отказался от события {type} "
               "({event_id}) после {deliveries} попыток: часть данных лаборатории там может быть устаревшей. "
               "Оператор может повторить его, устранив причину (manage.py dead_letters replay)."),
    },
}
UNKNOWN = {"en": {"athlete": "an athlete", "test": "test", "who": "A colleague", "file": "the file",
                  "deliveries": "several"},
           "ru": {"athlete": "спортсмена", "test": "тест", "who": "Коллега", "file": "файл", "deliveries": "нескольких"}}
TEST_ON = {"en": "test of {date}", "ru": "тест от {date}"}


def render(kind: str, language: str, values: dict) -> tuple[str, str]:
    language = language if language in ("en", "ru") else "en"
    filled = {**UNKNOWN[language], **{k: v for k, v in values.items() if v not in (None, "")}}
    if values.get("date"):
        filled["test"] = TEST_ON[language].format(date=values["date"])
    title, body = TEXTS[kind][language]

    class Missing(dict):
        def __missing__(self, key):
            return ""

    return title.format_map(Missing(filled))[:300], body.format_map(Missing(filled))
