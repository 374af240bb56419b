// The values the API sends that the console shows (statuses, roles, verdicts, methods, phases, quality flags...), in
// English and Russian, by kind. tests/values.test.ts reads the services' sources and the OpenAPI document for every
// value they can send and fails when one has no text here. A value not listed shows as it came.
import { language } from "./i18n";

type Texts = Record<string, readonly [en: string, ru: string]>;

const STATUS: Texts = {
  queued: ["queued", "в очереди"], running: ["running", "выполняется"], parsing: ["reading the file", "чтение файла"],
  storing: ["storing", "сохранение"], analyzing: ["analysing", "анализ"], analysing: ["analysing", "анализ"],
  rendering: ["rendering", "формируется"], done: ["done", "готово"], failed: ["failed", "ошибка"],
  draft: ["draft", "черновик"], importing: ["importing", "импорт"], imported: ["imported", "импортирован"],
  analyzed: ["analysed", "проанализирован"], insufficient: ["not enough data", "недостаточно данных"],
  pending: ["pending", "ожидает"], accepted: ["accepted", "принято"], expired: ["expired", "истекло"],
  revoked: ["revoked", "отозвано"], declined: ["declined", "отклонено"], active: ["active", "активен"],
  sending: ["sending", "отправка"], retrying: ["retrying", "повтор"], delivered: ["delivered", "доставлено"],
  dead: ["given up", "отправка прекращена"], skipped: ["skipped", "пропущено"], cancelled: ["cancelled", "отменено"],
  ok: ["ok", "ок"],
};

const ROLE: Texts = {
  owner: ["owner", "владелец"], admin: ["admin", "администратор"], physiologist: ["physiologist", "физиолог"],
  athlete: ["athlete", "спортсмен"], viewer: ["viewer", "наблюдатель"],
};

const MODALITY: Texts = {
  cycling: ["cycling", "велоэргометр"], running: ["running", "бег"], rowing: ["rowing", "гребля"],
  other: ["other", "другое"], treadmill: ["treadmill", "беговая дорожка"], arm: ["arm crank", "ручной эргометр"],
};

const SEX: Texts = { male: ["male", "мужской"], female: ["female", "женский"], other: ["other", "другой"] };

const PROTOCOL: Texts = {
  ramp: ["ramp", "рампа"], steps: ["steps", "ступени"], constant: ["constant load", "постоянная нагрузка"],
  unknown: ["unknown", "не определён"], other: ["other", "другой"],
};

const TEMPLATE: Texts = { full: ["full lab report", "полный отчёт"], athlete: ["athlete summary", "сводка для спортсмена"] };

const PHASE: Texts = {
  baseline: ["baseline", "покой"], warm_up: ["warm-up", "разминка"], warmup: ["warm-up", "разминка"],
  constant: ["constant load", "постоянная нагрузка"], incremental: ["incremental", "нагрузка"],
  ramp: ["ramp", "рампа"], steps: ["steps", "ступени"], rest: ["rest", "отдых"], recovery: ["recovery", "восстановление"],
};

const VERDICT: Texts = { vo2max: ["VO2max reached", "VO2max достигнуто"], vo2peak: ["VO2peak (no plateau)", "VO2peak (без плато)"] };

const BASIS: Texts = {
  plateau: ["plateau", "плато"], "no plateau": ["no plateau", "нет плато"],
  "plateau not evaluable": ["plateau not evaluable", "плато не оценить"],
};

/** Threshold methods: the international names stay, the words around them are translated. */
const METHOD: Texts = {
  "V-slope": ["V-slope", "V-slope"], "VE/VO2": ["VE/VO2", "VE/VO2"], PetO2: ["PetO2", "PetO2"],
  ExCO2: ["ExCO2", "ExCO2"], "VE/VCO2": ["VE/VCO2", "VE/VCO2"], PetCO2: ["PetCO2", "PetCO2"],
  "VE-VCO2": ["VE-VCO2 slope", "наклон VE-VCO2"], consensus: ["consensus (median)", "консенсус (медиана)"],
  combined: ["combined model", "комбинированная модель"], manual: ["set by hand", "вручную"],
  "Log-log": ["Log-log", "Log-log"], "OBLA 2.0": ["OBLA 2.0", "OBLA 2,0"], "OBLA 2.5": ["OBLA 2.5", "OBLA 2,5"],
  "OBLA 3.0": ["OBLA 3.0", "OBLA 3,0"], "OBLA 3.5": ["OBLA 3.5", "OBLA 3,5"], "OBLA 4.0": ["OBLA 4.0", "OBLA 4,0"],
  "Bsln + 0.5": ["baseline + 0.5", "исходный + 0,5"], "Bsln + 1.0": ["baseline + 1.0", "исходный + 1,0"],
  "Bsln + 1.5": ["baseline + 1.5", "исходный + 1,5"], Dmax: ["Dmax", "Dmax"], ModDmax: ["ModDmax", "ModDmax"],
  "Exp-Dmax": ["Exp-Dmax", "Exp-Dmax"], "Log-Poly-ModDmax": ["Log-Poly-ModDmax", "Log-Poly-ModDmax"],
  "Log-Exp-ModDmax": ["Log-Exp-ModDmax", "Log-Exp-ModDmax"], LTP1: ["LTP1", "LTP1"], LTP2: ["LTP2", "LTP2"],
  LTratio: ["LTratio", "LTratio"],
};

const SEVERITY: Texts = { info: ["note", "сведения"], warning: ["warning", "предупреждение"], error: ["error", "ошибка"] };

/** Quality flags by code; in English the engine's own message (it has the figures) is shown when there is one. */
const FLAG: Texts = {
  insufficient: ["the test cannot yield a VO2max", "по тесту нельзя определить VO2max"],
  load_from_declared_protocol: ["the load comes from the declared protocol", "нагрузка взята из заявленного протокола"],
  analysis_error: ["internal error while analysing", "внутренняя ошибка анализа"],
  length_mismatch: ["columns have different lengths", "столбцы разной длины"],
  missing_time: ["samples without time were dropped", "отброшены записи без времени"],
  duplicate_time: ["samples with repeated time were dropped", "отброшены записи с повторным временем"],
  too_short: ["the test or its exercise phase is too short", "тест или его нагрузочная фаза слишком короткие"],
  window_fallback: ["averaged data do not cover the exercise phase; whole test used",
    "усреднённые данные не покрывают нагрузку; взят весь тест"],
  body_mass_invalid: ["body mass outside 10–400 kg ignored", "масса тела вне 10–400 кг не учтена"],
  no_rer: ["RER could not be computed", "не удалось рассчитать RER"],
  no_body_mass: ["no body mass: VO2 per kg and norms unavailable", "нет массы тела: VO2 на кг и нормы недоступны"],
  thresholds_not_applicable: ["no incremental phase: no VT1/VT2", "нет фазы нарастающей нагрузки: ВП1/ВП2 не определяются"],
  thresholds_from_stage_ends: ["step test: VT1/VT2 from the ends of the stages", "ступенчатый тест: ВП1/ВП2 по концам ступеней"],
  thresholds_not_computed: ["too few data in the incremental phase for thresholds",
    "мало данных в фазе нагрузки для порогов"],
  vt1_undetermined: ["VT1 undetermined", "ВП1 не определён"], vt2_undetermined: ["VT2 undetermined", "ВП2 не определён"],
  threshold_order: ["VT1 is not below VT2: check the thresholds", "ВП1 не ниже ВП2: проверьте пороги"],
  "missing_channel:": ["channel {x} is missing", "нет канала {x}"],
  "units_suspicious:": ["the units of {x} look wrong", "единицы {x} выглядят неверными"],
  "implausible_values:": ["implausible values in {x}", "неправдоподобные значения в {x}"],
  "athlete_mismatch:": ["the file's athlete differs from the record ({x})", "спортсмен в файле не совпадает с карточкой ({x})"],
  noisy_signal: ["breath-to-breath VO2 scatter is high", "большой разброс VO2 от вдоха к вдоху"],
};

const ZONE: Texts = {
  "Zone 1 (below VT1)": ["Zone 1 (below VT1)", "Зона 1 (ниже ВП1)"], "Zone 2 (VT1-VT2)": ["Zone 2 (VT1–VT2)", "Зона 2 (ВП1–ВП2)"],
  "Zone 3 (above VT2)": ["Zone 3 (above VT2)", "Зона 3 (выше ВП2)"], "Z1 Recovery": ["Z1 Recovery", "З1 Восстановление"],
  "Z2 Endurance": ["Z2 Endurance", "З2 Выносливость"], "Z3 Tempo": ["Z3 Tempo", "З3 Темп"],
  "Z4 Threshold": ["Z4 Threshold", "З4 Порог"], "Z5 VO2max": ["Z5 VO2max", "З5 VO2max"],
  "zones need both VT1 and VT2": ["zones need both VT1 and VT2", "для зон нужны оба порога, ВП1 и ВП2"],
  "no heart rate at the thresholds: HR zones not available": ["no heart rate at the thresholds: HR zones not available",
    "нет ЧСС на порогах: зоны по пульсу недоступны"],
};

/** What changed in an analysis version (measurements' audit actions). */
const ACTION: Texts = {
  import: ["import", "импорт"], override: ["override", "ручная правка"], lactate: ["lactate steps", "ступени лактата"],
  recompute: ["recompute", "пересчёт"], heart_rate: ["heart-rate track", "пульс"], protocol: ["protocol", "протокол"],
};

export const VALUES = {
  status: STATUS, role: ROLE, modality: MODALITY, sex: SEX, protocol: PROTOCOL, template: TEMPLATE, phase: PHASE,
  verdict: VERDICT, basis: BASIS, method: METHOD, severity: SEVERITY, flag: FLAG, zone: ZONE, action: ACTION,
} as const;

export type Kind = keyof typeof VALUES;

/** A value the API sent, in the console's language (as it came when unknown, "—" when absent). */
export function say(kind: Kind, value: string | null | undefined): string {
  if (value === null || value === undefined || value === "") return "—";
  const texts: Texts = VALUES[kind];
  const ru = language.get() === "ru" ? 1 : 0;
  const found = texts[value];
  if (found) return found[ru];
  const prefix = Object.keys(texts).find((key) => key.endsWith(":") && value.startsWith(key));
  return prefix ? texts[prefix][ru].replace("{x}", value.slice(prefix.length)) : value;
}

/** A quality flag in words: the engine's message in English (it carries the figures), the code's text in Russian. */
export function sayFlag(flag: { code?: string; message?: string }): string {
  if (language.get() !== "ru" && flag.message) return flag.message;
  return flag.code ? say("flag", flag.code) : flag.message ?? "—";
}
