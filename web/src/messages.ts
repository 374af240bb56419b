// What the services say in words, by code: an import's warnings (the analysis readers' codes, `warning_details`),
// problem+json answers (by the slug of their `type`) and their field errors (by field and validator code), in English
// and Russian. A code the console does not know shows the server's English text as it came. tests/messages.test.ts
// reads the codes the services can send (the OpenAPI document's ReaderWarningCode enum; the problem types in the
// services' sources) and fails when one has no text here.
import { formatNumber, language } from "./i18n";
import { say } from "./values";

type Texts = Record<string, readonly [en: string, ru: string]>;
type Params = Record<string, unknown>;

/** The readers' warnings (services/analysis/analysis/formats/notices.py), `{name}` filled from the warning's params. */
export const WARNINGS: Texts = {
  rows_without_time: ["{count} rows with values but no readable time were skipped (first at {row_word} {first})",
    "пропущены строки со значениями, но без читаемого времени: {count} (первая — {row_word} {first})"],
  time_disorder_dropped: ["{count} duplicate/backwards time stamps dropped ({repeated} repeated, {backwards} backwards; "
    + "first at {row_word} {row}: {time} s after {previous} s)",
  "отброшены повторяющиеся или идущие назад отметки времени: {count} (повторов {repeated}, назад {backwards}; "
    + "первая — {row_word} {row}: {time} с после {previous} с)"],
  time_wall_clock: ["{label}: wall-clock date-times converted to seconds", "{label}: дата и время по часам переведены в секунды"],
  time_minutes: ["{label}: decimal minutes converted to seconds", "{label}: десятичные минуты переведены в секунды"],
  time_day_fractions: ["{label}: no unit; values below 1 read as Excel day fractions",
    "{label}: без единиц; значения меньше 1 прочитаны как доли суток Excel"],
  time_milliseconds: ["{label}: no unit; values up to {max} with steps of ~{step} read as milliseconds",
    "{label}: без единиц; значения до {max} с шагом ~{step} прочитаны как миллисекунды"],
  time_unit_unknown: ["{label}: unit '{unit}' not recognised; values read as seconds",
    "{label}: единица «{unit}» не распознана; значения прочитаны как секунды"],
  column_empty: ["{column}: column present but empty; treated as absent",
    "{column}: столбец есть, но пуст; считается отсутствующим"],
  column_all_zero: ["{column}: column is all zero; treated as absent",
    "{column}: в столбце одни нули; считается отсутствующим"],
  column_ambiguous_rate: ["column '{column}' is ambiguous (respiratory rate or blood pressure); not used",
    "столбец «{column}» неоднозначен (частота дыхания или артериальное давление); не использован"],
  vo2_relative_and_absolute: ["two VO2 columns without units: column {relative_column} (median {relative_median}) read "
    + "as relative mL/kg/min, column {absolute_column} (median {absolute_median}) as absolute",
  "два столбца VO2 без единиц: столбец {relative_column} (медиана {relative_median}) прочитан как относительный "
    + "VO2, мл/кг/мин, столбец {absolute_column} (медиана {absolute_median}) — как абсолютный"],
  mixed_expired_pressures: ["PeO2/PeCO2 are mixed-expired pressures, not end-tidal; not used as PETO2/PETCO2",
    "PeO2/PeCO2 — давления в смешанном выдыхаемом воздухе, а не в конце выдоха; как PETO2/PETCO2 не использованы"],
  values_unreadable: ["{count} unreadable values in column '{column}' (first at line {line})",
    "нечитаемые значения в столбце «{column}»: {count} (первое — в строке {line})"],
  gas_header_ml_is_l: ["{label}: the header says mL/min but the values (up to {max}) are L/min; converted to mL/min",
    "{label}: в заголовке мл/мин, но значения (до {max}) — в л/мин; переведены в мл/мин"],
  gas_header_l_is_ml: ["{label}: the header says L/min but the values (up to {max}) are mL/min; read as mL/min",
    "{label}: в заголовке л/мин, но значения (до {max}) — в мл/мин; прочитаны как мл/мин"],
  gas_no_unit_l: ["{label}: no unit in the header; values up to {max} read as L/min and converted to mL/min",
    "{label}: в заголовке нет единиц; значения до {max} прочитаны как л/мин и переведены в мл/мин"],
  gas_no_unit_ml: ["{label}: no unit in the header; values up to {max} read as mL/min",
    "{label}: в заголовке нет единиц; значения до {max} прочитаны как мл/мин"],
  ventilation_no_unit_ml: ["{label}: no unit; values above 400 read as mL/min",
    "{label}: без единиц; значения выше 400 прочитаны как мл/мин"],
  ventilation_unit_unknown: ["{label}: unit '{unit}' not recognised; read as L/min",
    "{label}: единица «{unit}» не распознана; прочитано как л/мин"],
  tidal_volume_no_unit_ml: ["{label}: no unit; values above 15 read as mL",
    "{label}: без единиц; значения выше 15 прочитаны как мл"],
  tidal_volume_unit_unknown: ["{label}: unit '{unit}' not recognised; read as L",
    "{label}: единица «{unit}» не распознана; прочитано как л"],
  speed_no_unit: ["{label}: no speed unit in the header; read as {read_as}",
    "{label}: в заголовке нет единиц скорости; прочитано как {read_as}"],
  speed_unit_unknown: ["{label}: unit '{unit}' is not a speed unit; read as km/h",
    "{label}: «{unit}» — не единица скорости; прочитано как км/ч"],
  pressure_no_unit_kpa: ["{label}: no unit; values below 25 read as kPa",
    "{label}: без единиц; значения ниже 25 прочитаны как кПа"],
  pressure_percent: ["{label}: given in % (needs barometric pressure); not used",
    "{label}: дано в % (нужно барометрическое давление); не использовано"],
  values_above_range: ["suspicious values: {column} up to {max} {unit} (> {limit}) in {count} of {total} rows",
    "подозрительные значения: {column} до {max} {unit} (> {limit}) в {count} из {total} строк"],
  values_negative: ["suspicious values: {column} has negative values (min {min}) in {count} of {total} rows",
    "подозрительные значения: в {column} есть отрицательные (минимум {min}) в {count} из {total} строк"],
  values_below_range: ["suspicious values: {column} has values below {limit} {unit} (min {min}) in {count} of {total} rows",
    "подозрительные значения: в {column} есть значения ниже {limit} {unit} (минимум {min}) в {count} из {total} строк"],
  no_test_date: ["the export has no test date; enter the date on the test",
    "в файле нет даты теста; укажите дату в карточке теста"],
  age_disagrees: ["the export's age ({age} y) disagrees with its birth and test dates ({age_from_dates} y); the stated "
    + "age is kept",
  "возраст в файле ({age} лет) не сходится с датами рождения и теста ({age_from_dates} лет); оставлен указанный возраст"],
  body_mass_suspicious: ["suspicious body mass {body_mass_kg} kg; ignored", "подозрительная масса тела {body_mass_kg} кг; не учтена"],
  height_suspicious: ["suspicious height {height_cm} cm; ignored", "подозрительный рост {height_cm} см; не учтён"],
  body_mass_estimated: ["body mass {body_mass_kg} kg estimated from absolute / relative VO2 (not in the export)",
    "масса тела {body_mass_kg} кг рассчитана по абсолютному и относительному VO2 (в файле её нет)"],
  sex_code_unknown: ["Oxynet gender code {sex_code} is neither -1 (male) nor 1 (female); sex not set",
    "код пола Oxynet {sex_code} — ни −1 (мужской), ни 1 (женский); пол не задан"],
  zan_incomplete: ["ZAN export ends without the [Start]/[Ergometer] sections; it may be incomplete",
    "файл ZAN заканчивается без разделов [Start]/[Ergometer]; возможно, он неполный"],
  exercise_clock: ["time is the exercise clock (Ex Time), {offset} s after the recording clock (Time); {before} rows "
    + "before exercise have negative times",
  "время — по часам нагрузки (Ex Time), на {offset} с позже часов записи (Time); у строк до нагрузки ({before}) "
    + "время отрицательное"],
  vo2_litres_converted: ["VO2 values below 10 read as L/min and converted to mL/min",
    "значения VO2 меньше 10 прочитаны как л/мин и переведены в мл/мин"],
  work_column_not_power: ["column 'W' holds work/energy (see its unit), not power in watts; not used",
    "столбец «W» содержит работу или энергию (см. его единицы), а не мощность в ваттах; не использован"],
  hr_replaced_by_track: ["heart rate from the cart export replaced by the TCX track",
    "ЧСС из файла газоанализатора заменена записью TCX"],
  hr_track_coverage_tcx: ["TCX heart rate covers {coverage_pct}% of the test (check offset_s)",
    "ЧСС из TCX покрывает {coverage_pct} % теста (проверьте offset_s)"],
  hr_timestamps_without_zone: ["time stamps without a time zone read as UTC",
    "отметки времени без часового пояса прочитаны как UTC"],
  hr_values_out_of_range: ["{count} heart-rate values outside {low}-{high} bpm left out",
    "значения ЧСС вне {low}–{high} уд/мин не учтены: {count}"],
  hr_weak_correlation: ["HR correlates weakly with VO2 at the best offset (r = {r}): check offset_s",
    "ЧСС слабо связана с VO2 при лучшем сдвиге (r = {r}): проверьте offset_s"],
  hr_track_coverage: ["the heart-rate track covers {coverage_pct} % of the test", "запись ЧСС покрывает {coverage_pct} % теста"],
  reader_note: ["{text}", "{text}"],
};

/** Words inside a warning's params (the row word, units) in Russian; the rest (column names, labels) as they came. */
const PARAM_WORDS_RU: Record<string, string> = {
  row: "строка", line: "строка", "km/h": "км/ч", mph: "миль/ч", "m/s": "м/с", "mL/min": "мл/мин", "L/min": "л/мин",
  bpm: "уд/мин", L: "л", "/min": "/мин", mmHg: "мм рт. ст.", W: "Вт",
};

/** Problem types by the slug of `type` (urn:vo2:problem:<slug>); `{name}` from the problem's own members. */
export const PROBLEMS: Texts = {
  // the request itself
  "validation-error": ["Some fields are not valid.", "Некоторые поля заполнены неверно."],
  "bad-request": ["The request is not valid.", "Неверный запрос."],
  "bad-input": ["The file could not be taken.", "Файл не удалось принять."],
  "invalid-cursor": ["This page of the list is no longer valid; reload the list.",
    "Эта страница списка устарела; обновите список."],
  "method-not-allowed": ["This action is not possible here.", "Здесь это действие недоступно."],
  "not-acceptable": ["The server cannot answer in the form asked for.", "Сервер не может ответить в запрошенном виде."],
  "uri-too-long": ["The address is too long.", "Слишком длинный адрес."],
  "header-too-large": ["A request header is too large; sign in again.", "Слишком большой заголовок запроса; войдите снова."],
  "unsupported-media-type": ["This kind of file or body is not accepted here.", "Такой тип файла или данных здесь не принимается."],
  "unprocessable-content": ["The data cannot be processed.", "Данные не удаётся обработать."],
  "payload-too-large": ["The upload is larger than the limit of {limit_bytes} bytes.",
    "Файл больше допустимого размера ({limit_bytes} байт)."],
  "file-too-large": ["The file is too large.", "Файл слишком большой."],
  "idempotency-key-reused": ["This request was already sent with other data; start again.",
    "Этот запрос уже отправлялся с другими данными; начните заново."],
  "idempotency-key-in-flight": ["The same request is still being processed; wait a moment.",
    "Такой же запрос ещё обрабатывается; подождите немного."],
  "precondition-failed": ["Someone changed this meanwhile; reload and try again.",
    "Пока вы работали, данные изменились; обновите страницу и повторите."],
  "conflict": ["This conflicts with the current state; reload and try again.",
    "Это противоречит текущему состоянию; обновите страницу и повторите."],
  "rate-limited": ["Too many requests; wait a little and try again.", "Слишком много запросов; подождите и повторите."],
  // signing in and permissions
  "not-authenticated": ["You are not signed in, or the session ended.", "Вы не вошли в систему или сеанс истёк."],
  "invalid-credentials": ["The e-mail or the password is wrong.", "Неверный e-mail или пароль."],
  "invalid-refresh-token": ["The session ended; sign in again.", "Сеанс завершён; войдите снова."],
  "invalid-api-key": ["The API key is not valid.", "Недействительный API-ключ."],
  "invalid-client": ["The client credentials are not valid.", "Недействительные учётные данные клиента."],
  "invalid-mfa-code": ["The code is wrong or expired.", "Код неверен или устарел."],
  "invalid-mfa-challenge": ["The sign-in step expired; sign in again.", "Шаг входа устарел; войдите снова."],
  "mfa-required": ["Enter the code from your authenticator app.", "Введите код из приложения-аутентификатора."],
  "mfa-required-by-tenant": ["This organisation requires two-factor sign-in; set it up first.",
    "Организация требует двухфакторный вход; сначала включите его."],
  "mfa-enrolment-required": ["Set up two-factor sign-in to continue.", "Чтобы продолжить, включите двухфакторный вход."],
  "mfa-already-enabled": ["Two-factor sign-in is already on.", "Двухфакторный вход уже включён."],
  "mfa-not-enabled": ["Two-factor sign-in is not on.", "Двухфакторный вход не включён."],
  "tenant-required": ["Choose the organisation to sign in to.", "Выберите организацию для входа."],
  "no-membership": ["You are not a member of this organisation.", "Вы не состоите в этой организации."],
  "forbidden": ["Your role may not do this.", "Вашей роли это не разрешено."],
  "plan-limit": ["The plan's {quota} quota ({limit}) is reached.", "Исчерпана квота тарифа «{quota}» ({limit})."],
  "plan-expired": ["The organisation's plan has ended: data can be read, not changed.",
    "Тариф организации закончился: данные можно смотреть, но не изменять."],
  "reset-token-invalid": ["The password reset link is not valid or has expired.",
    "Ссылка для сброса пароля недействительна или устарела."],
  "sso-required": ["This organisation signs in through its single sign-on.", "Эта организация входит через единый вход (SSO)."],
  "sso-not-configured": ["This organisation has no single sign-on.", "У этой организации нет единого входа (SSO)."],
  "sso-state-invalid": ["The single sign-on expired or was tampered with; try again.",
    "Сеанс единого входа устарел или нарушен; попробуйте снова."],
  "sso-discovery-failed": ["The identity provider's settings could not be read.", "Не удалось прочитать настройки провайдера входа."],
  "sso-provider-unavailable": ["The identity provider does not answer.", "Провайдер входа не отвечает."],
  "sso-domain-taken": ["This e-mail domain already belongs to another organisation's sign-on.",
    "Этот почтовый домен уже привязан ко входу другой организации."],
  // members and invitations
  "already-a-member": ["This person is already a member.", "Этот человек уже состоит в организации."],
  "not-a-member": ["This user is not a member here.", "Этот пользователь здесь не состоит."],
  "last-owner": ["The organisation needs at least one owner.", "В организации должен остаться хотя бы один владелец."],
  "invitation-not-found": ["No such invitation.", "Такого приглашения нет."],
  "invitation-expired": ["The invitation has expired.", "Срок приглашения истёк."],
  "invitation-used": ["The invitation was already used.", "Приглашение уже использовано."],
  // objects
  "not-found": ["Not found (it may have been deleted).", "Не найдено (возможно, удалено)."],
  "no-analysis": ["This test has no analysis yet.", "У этого теста ещё нет анализа."],
  "no-samples": ["The file holds no breath-by-breath samples.", "В файле нет данных по вдохам."],
  "heart-rate-recorded": ["The test already has a recorded heart rate; choose to replace it.",
    "В тесте уже есть записанная ЧСС; выберите замену."],
  "invalid-override": ["The threshold does not fit this test.", "Порог не подходит к этому тесту."],
  "analysis-conflict": ["The test's data changed meanwhile; try again.", "Данные теста изменились; повторите."],
  "analysis-refused": ["The analysis refused these data.", "Анализ отклонил эти данные."],
  "analysis-mismatch": ["The analysis service answered something unexpected.", "Сервис анализа ответил не то, что ожидалось."],
  "test-not-analysable": ["This test has no analysis to report.", "У этого теста нет анализа для отчёта."],
  "import-running": ["The import is still running.", "Импорт ещё выполняется."],
  "file-gone": ["The uploaded file is no longer stored; upload it again.", "Загруженный файл больше не хранится; загрузите его снова."],
  "export-not-ready": ["The export is not ready yet.", "Выгрузка ещё не готова."],
  "export-expired": ["The export has expired; request a new one.", "Срок выгрузки истёк; запросите новую."],
  "report-not-ready": ["The report is not ready yet.", "Отчёт ещё не готов."],
  "report-file-gone": ["The report's file is no longer stored.", "Файл отчёта больше не хранится."],
  "unsupported-logo": ["The logo must be a PNG or JPEG image.", "Логотип должен быть изображением PNG или JPEG."],
  "unsafe-logo": ["The logo image cannot be used.", "Это изображение нельзя использовать как логотип."],
  "webhook-endpoint-disabled": ["The webhook is disabled.", "Вебхук отключён."],
  "webhook-delivery-failed": ["The webhook's address did not accept the delivery.", "Адрес вебхука не принял доставку."],
  "webhook-undeliverable": ["The webhook's address cannot be reached.", "Адрес вебхука недоступен."],
  "mail-undeliverable": ["The e-mail could not be delivered.", "Письмо не удалось доставить."],
  "smtp-error": ["The mail server refused the e-mail.", "Почтовый сервер отклонил письмо."],
  // a cart export or a heart-rate track that cannot be read (the analysis readers)
  "unknown-format": ["The file is not a cart export this system can read.",
    "Этот файл не похож на выгрузку газоанализатора, которую умеет читать система."],
  "unknown-format-hint": ["The format chosen does not fit this file.", "Выбранный формат не подходит к этому файлу."],
  "unsupported-spreadsheet": ["This kind of spreadsheet cannot be read; save it as XLSX or CSV.",
    "Такую таблицу прочитать нельзя; сохраните её как XLSX или CSV."],
  "empty-file": ["The file is empty.", "Файл пустой."],
  "truncated-file": ["The file is cut short.", "Файл обрезан."],
  "corrupt-file": ["The file is damaged.", "Файл повреждён."],
  "malformed-file": ["The file is not valid.", "Файл повреждён или имеет неверную структуру."],
  "malformed-csv": ["The CSV file's quoting is broken.", "В CSV-файле нарушены кавычки."],
  "malformed-xml": ["The XML file is not valid.", "XML-файл имеет неверную структуру."],
  "malformed-zan": ["The ZAN file is not valid.", "Файл ZAN имеет неверную структуру."],
  "unreadable-file": ["The file could not be read.", "Файл не удалось прочитать."],
  "xml-entities-forbidden": ["The XML file declares entities, which are refused for safety.",
    "XML-файл объявляет сущности; по соображениям безопасности такие файлы не принимаются."],
  "zip-bomb": ["The file unpacks to far more than it holds; refused.", "Файл распаковывается в слишком большой объём; отклонён."],
  "sheet-too-large": ["The spreadsheet is too large.", "Таблица слишком большая."],
  "too-many-rows": ["The file has too many rows.", "В файле слишком много строк."],
  "no-header": ["No header row with a time column was found.", "Не найдена строка заголовков со столбцом времени."],
  "no-data": ["The file holds no data rows that can be read.", "В файле нет строк с данными, которые можно прочитать."],
  "no-data-columns": ["The table has a time column but no VO2, VCO2, VE, HR or load column.",
    "В таблице есть столбец времени, но нет столбцов VO2, VCO2, VE, ЧСС или нагрузки."],
  "inconsistent-columns": ["The file's columns have different lengths.", "Столбцы файла разной длины."],
  "non-finite-value": ["The file holds an infinite value.", "В файле есть бесконечное значение."],
  "non-monotonic-time": ["The time in the file does not increase.", "Время в файле не возрастает."],
  "ambiguous-units": ["A column's unit does not fit its values; check the unit.",
    "Единицы столбца не подходят к его значениям; проверьте единицы."],
  "unknown-columns": ["The data hold unknown columns.", "В данных есть неизвестные столбцы."],
  "heart-rate-track-only": ["This is a heart-rate track, not a cart export: add it to a test as its heart rate.",
    "Это запись пульса, а не выгрузка газоанализатора: добавьте её к тесту как ЧСС."],
  "heart-rate-not-alignable": ["The heart-rate track could not be placed on the test; give the offset.",
    "Запись ЧСС не удалось совместить с тестом; укажите сдвиг."],
  "heart-rate-no-overlap": ["The heart-rate track does not overlap the test.", "Запись ЧСС не пересекается с тестом."],
  "implausible-track": ["The track is not the recording of one test.", "Запись не похожа на запись одного теста."],
  // the system
  "unavailable": ["The service is unavailable for now; try again later.", "Сервис временно недоступен; попробуйте позже."],
  "analysis-unavailable": ["The analysis service cannot be reached; try again later.",
    "Сервис анализа недоступен; попробуйте позже."],
  "identity-unavailable": ["The sign-in service cannot be reached; try again later.",
    "Сервис учётных записей недоступен; попробуйте позже."],
  "auth-unavailable": ["Your sign-in cannot be checked right now; try again in a moment.",
    "Вход сейчас не удаётся проверить; повторите через минуту."],
  "database-unavailable": ["The database cannot be reached; try again later.", "База данных недоступна; попробуйте позже."],
  "concurrent-change": ["Someone saved a change to the same data at the same moment; nothing was stored. Try again.",
    "В тот же момент кто-то сохранил изменение тех же данных; ничего не сохранено. Повторите."],
  "bad-gateway": ["A service did not answer properly; try again.", "Один из сервисов ответил неправильно; повторите."],
  "gateway-timeout": ["A service did not answer in time; try again.", "Один из сервисов не ответил вовремя; повторите."],
  "internal-error": ["Something went wrong on the server.", "На сервере произошла ошибка."],
};

/** Field errors by the validator's code (DRF's; pydantic's); `{n}` is the figure of the English text, if any. */
export const FIELD_CODES: Texts = {
  required: ["This field is required.", "обязательное поле"], missing: ["This field is required.", "обязательное поле"],
  blank: ["This field may not be blank.", "поле не может быть пустым"],
  null: ["This field may not be empty.", "поле не может быть пустым"],
  empty: ["The file is empty.", "файл пустой"], no_name: ["The file has no name.", "у файла нет имени"],
  invalid: ["The value is not valid.", "неверное значение"],
  invalid_choice: ["Not one of the choices.", "недопустимый вариант"],
  does_not_exist: ["No such object.", "такого объекта нет"], not_found: ["No such object.", "такого объекта нет"],
  incorrect_type: ["Wrong type of value.", "неверный тип значения"],
  max_length: ["At most {n} characters.", "не длиннее {n} символов"],
  min_length: ["At least {n} characters.", "не короче {n} символов"],
  max_value: ["At most {n}.", "не больше {n}"], min_value: ["At least {n}.", "не меньше {n}"],
  max_digits: ["Too many digits.", "слишком много цифр"], max_decimal_places: ["Too many decimals.", "слишком много знаков после запятой"],
  unique: ["Already taken.", "уже занято"], date: ["Not a date.", "это не дата"], datetime: ["Not a date and time.", "это не дата и время"],
  not_a_list: ["Expected a list.", "ожидается список"], max_string_length: ["Too long.", "слишком длинное значение"],
  password_too_short: ["The password is too short.", "пароль слишком короткий"],
  password_too_common: ["The password is too common.", "пароль слишком распространённый"],
  password_entirely_numeric: ["The password is only digits.", "пароль состоит только из цифр"],
  password_too_similar: ["The password is too like your other details.", "пароль слишком похож на ваши данные"],
  string_too_long: ["Too long.", "слишком длинное значение"], string_too_short: ["Too short.", "слишком короткое значение"],
  greater_than: ["Too small.", "слишком маленькое значение"], less_than: ["Too large.", "слишком большое значение"],
  greater_than_equal: ["Too small.", "слишком маленькое значение"], less_than_equal: ["Too large.", "слишком большое значение"],
  int_parsing: ["Not a whole number.", "это не целое число"], float_parsing: ["Not a number.", "это не число"],
  literal_error: ["Not one of the choices.", "недопустимый вариант"],
  unknown_field: ["This request does not take this field.", "этот запрос не принимает такое поле"],
  unknown_parameter: ["This list does not take this parameter.", "этот список не принимает такой параметр"],
  extra_forbidden: ["This request does not take this field.", "этот запрос не принимает такое поле"],
};

/** Field names the console's forms send, as the screens label them. */
export const FIELD_NAMES: Texts = {
  first_name: ["First name", "Имя"], last_name: ["Last name", "Фамилия"], sex: ["Sex", "Пол"],
  birth_date: ["Birth date", "Дата рождения"], height_cm: ["Height, cm", "Рост, см"],
  body_mass_kg: ["Body mass, kg", "Масса тела, кг"], sport: ["Sport", "Вид спорта"], notes: ["Notes", "Заметки"],
  email: ["E-mail", "E-mail"], password: ["Password", "Пароль"], current_password: ["Current password", "Текущий пароль"],
  new_password: ["New password", "Новый пароль"], code: ["Code", "Код"], file: ["File", "Файл"],
  athlete: ["Athlete", "Спортсмен"], date: ["Date", "Дата"], modality: ["Modality", "Вид нагрузки"],
  protocol: ["Protocol", "Протокол"], format: ["Format", "Формат"], language: ["Language", "Язык"],
  template: ["Template", "Шаблон"], conclusion: ["Conclusion", "Заключение"], url: ["Address", "Адрес"],
  events: ["Events", "События"], role: ["Role", "Роль"], name: ["Name", "Название"], offset_s: ["Offset, s", "Сдвиг, с"],
  lab_name: ["Lab name", "Название лаборатории"], accent_color: ["Accent colour", "Фирменный цвет"],
  logo: ["Logo", "Логотип"], user_id: ["User", "Пользователь"], tenant: ["Organisation", "Организация"],
};

const ru = () => (language.get() === "ru" ? 1 : 0);

function figure(value: unknown): string {
  if (typeof value === "number") {
    if (Number.isInteger(value)) return formatNumber(value, 0);
    return value.toLocaleString(ru() ? "ru-RU" : "en-GB", { maximumSignificantDigits: 4 });
  }
  if (value === null || value === undefined) return "—";
  const text = String(value);
  return ru() ? PARAM_WORDS_RU[text] ?? text : text;
}

function fill(template: string, params: Params): string {
  return template.replace(/\{([a-z0-9_]+)\}/g, (whole, name: string) => (name in params ? figure(params[name]) : whole));
}

export interface CodedWarning { code?: string; params?: Params; message?: string }

/** An import's warning in words: by its reader code; a result's flag (athlete_mismatch:…, insufficient) by the flag's
 * text in Russian, its message in English; any other code as the server said it. */
export function sayWarning(w: CodedWarning | string): string {
  if (typeof w === "string") return w;
  const code = w.code ?? "";
  const texts = WARNINGS[code];
  if (texts) return fill(texts[ru()], w.params ?? {});
  const flag = say("flag", code);
  if (code && flag !== code && (ru() || !w.message)) return flag;
  return w.message ?? code;
}

/** An import's warnings, coded where the server sent codes (`warning_details`), else the English texts. */
export function importWarnings(job: { warnings?: string[]; warning_details?: CodedWarning[] } | null | undefined): string[] {
  if (!job) return [];
  const coded = job.warning_details;
  if (Array.isArray(coded) && coded.length === (job.warnings ?? []).length) return coded.map(sayWarning);
  return (job.warnings ?? []).map(String);
}

export function problemSlug(problem: { type?: unknown }): string {
  return String(problem.type ?? "").split(":").pop() ?? "";
}

interface FieldError { field?: string | null; detail?: unknown; code?: string }

function fieldErrors(errors: unknown): FieldError[] {
  if (Array.isArray(errors)) return errors.filter((e) => e && typeof e === "object") as FieldError[];
  if (errors && typeof errors === "object") {  // {field: [messages]} (an older shape)
    return Object.entries(errors as Record<string, unknown>).map(([field, messages]) => ({
      field, detail: Array.isArray(messages) ? messages.join(" ") : typeof messages === "string" ? messages
        : JSON.stringify(messages),
    }));
  }
  return [];
}

/** One field's problem in words: "Имя: обязательное поле" (by its code in Russian; the server's text in English). */
export function sayFieldError(e: FieldError): string {
  const detail = e.detail === undefined ? "" : String(e.detail);
  const field = e.field ? (ru() ? FIELD_NAMES[e.field.split(/[.[]/)[0]]?.[1] ?? e.field : e.field) : "";
  let text = detail;
  if (ru()) {
    const texts = e.code ? FIELD_CODES[e.code] : undefined;
    const n = detail.match(/-?\d+(?:[.,]\d+)?/)?.[0];
    if (texts && (!texts[1].includes("{n}") || n !== undefined)) text = fill(texts[1], { n: n ?? "" });
  }
  return field ? `${field}: ${text}` : text;
}

/** A problem+json answer in words, in the console's language: in English the server's `detail` (it names the
 * figures) and each field's problem; in Russian the text of its type and each field's problem by its code. An
 * unknown type shows the server's text. */
export function sayProblem(problem: Record<string, any> | null | undefined, status = 0): string {
  if (!problem || typeof problem !== "object") return status ? `HTTP ${status}` : "—";
  const slug = problemSlug(problem);
  const errors = fieldErrors(problem.errors);
  const parts: string[] = [];
  const texts = PROBLEMS[slug];
  const server = problem.detail ? String(problem.detail) : problem.title ? String(problem.title) : "";
  const head = ru() && texts ? fill(texts[1], problem) : server || (texts ? fill(texts[0], problem) : "");
  const listed = errors.map(sayFieldError);
  // in English a validation problem's detail is its first field's error: not said twice
  if (head && !(errors.length && !ru() && listed.includes(head))) parts.push(head);
  parts.push(...listed.filter((text, i) => text && listed.indexOf(text) === i));
  return parts.length ? parts.join(" — ") : status ? `HTTP ${status}` : "—";
}
