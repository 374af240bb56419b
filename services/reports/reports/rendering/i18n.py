"""Every word the reports print, in one place: English and Russian, plus number, date and time formatting.

`t(lang, key, **fields)` returns the label; a missing key in one language is a bug (tests compare the key sets).
Numbers follow the language: `num(52.34, 1, "ru") == "52,3"`; missing values print as an em dash.
"""
from __future__ import annotations

import datetime as dt
import math

LANGUAGES = ("ru", "en")
DASH = "—"
MINUS = "\u2212"

EN: dict[str, str] = {
    "brand": "VO2max Report",
    "title_full": "Cardiopulmonary exercise test",
    "title_athlete": "Your exercise test results",
    "subtitle_full": "Laboratory report",
    # athlete and test
    "section_athlete": "Athlete",
    "section_test": "Test",
    "name": "Name",
    "sex": "Sex",
    "sex_male": "male",
    "sex_female": "female",
    "birth_date": "Date of birth",
    "age": "Age",
    "body_mass": "Body mass",
    "height": "Height",
    "bmi": "BMI",
    "sport": "Sport",
    "test_date": "Test date",
    "modality": "Modality",
    "protocol": "Protocol",
    "device": "Device",
    "environment": "Environment",
    "lab": "Laboratory",
    "operator": "Tested by",
    "env_temperature": "{v} °C",
    "env_pressure": "{v} hPa",
    "env_pressure_mmhg": "{v} mmHg",
    "env_humidity": "RH {v} %",
    "modality_treadmill": "treadmill",
    "modality_cycle": "cycle ergometer",
    "modality_rowing": "rowing ergometer",
    "modality_arm": "arm ergometer",
    "modality_field": "field test",
    "modality_other": "other",
    "protocol_ramp": "ramp",
    "protocol_steps": "incremental steps",
    "protocol_constant": "constant load",
    "protocol_unknown": "not detected",
    "protocol_start": "start {v} {unit}",
    "protocol_increment": "+{v} {unit}",
    "protocol_stage": "stage {v} s",
    # units
    "u_ml_min": "ml/min",
    "u_ml_kg_min": "ml/kg/min",
    "u_l_min": "L/min",
    "u_bpm": "bpm",
    "u_w": "W",
    "u_w_kg": "W/kg",
    "u_kmh": "km/h",
    "u_kmh_min": "km/h per min",
    "u_w_min": "W/min",
    "u_kg": "kg",
    "u_cm": "cm",
    "u_s": "s",
    "u_min": "min",
    "u_mmhg": "mmHg",
    "u_mmol": "mmol/L",
    "u_g_min": "g/min",
    "u_pace": "min/km",
    # VO2max
    "section_vo2max": "Maximal oxygen uptake",
    "vo2max": "VO2max",
    "vo2peak": "VO2peak",
    "verdict": "Verdict",
    "verdict_vo2max": "VO2max confirmed: VO2 plateaued at the end of the test",
    "verdict_vo2peak": "VO2peak: no plateau, the true maximum may be higher",
    "verdict_vo2peak_ne": "VO2peak: the plateau could not be evaluated",
    "criteria": "Secondary criteria",
    "crit_rer": "RER max {v} (threshold ≥ {thr})",
    "crit_hr": "HR max {v} bpm (predicted {pred} bpm)",
    "crit_lactate": "lactate max {v} mmol/L (threshold ≥ {thr})",
    "crit_met": "met",
    "crit_not_met": "not met",
    "crit_not_measured": "not measured",
    "crit_summary": "{met} of {n} criteria met",
    "percentile": "FRIEND percentile",
    "percentile_value": "{p}th percentile",
    "band_gt90": "above the 90th percentile",
    "band_lt10": "below the 10th percentile",
    "band_range": "between the {a}th and {b}th percentile",
    "no_norm": "no norm applied",
    "norm_source": "Norm",
    "section_peak": "Peak values",
    "peak_vo2": "VO2 peak",
    "peak_rer": "RER",
    "peak_hr": "Heart rate",
    "peak_power": "Power",
    "peak_speed": "Speed",
    "peak_ve": "Ventilation (VE)",
    "peak_vco2": "VCO2 peak",
    # thresholds
    "section_thresholds": "Ventilatory thresholds",
    "vt1": "VT1",
    "vt2": "VT2",
    "vt1_long": "VT1 — first ventilatory (aerobic) threshold",
    "vt2_long": "VT2 — second ventilatory threshold, respiratory compensation point",
    "col_threshold": "Threshold",
    "col_method": "Method",
    "col_time": "Time",
    "col_vo2": "VO2, ml/min",
    "col_vo2kg": "VO2, ml/kg/min",
    "col_pct": "% VO2max",
    "col_hr": "HR, bpm",
    "col_power": "Power, W",
    "col_speed": "Speed, km/h",
    "col_confidence": "Confidence",
    "chosen": "chosen",
    "consensus": "consensus",
    "manual": "manual",
    "manual_note": "Set by the physiologist (manual override); the methods below are the automatic detection.",
    "not_detected": "not detected",
    "thr_note": "Bold rows are the values used for zones; the other rows show each detection method.",
    # zones
    "section_zones": "Training zones",
    "zones_three": "Three-zone model (VT1 / VT2)",
    "zones_five": "Five-zone model",
    "col_zone": "Zone",
    "col_hr_range": "Heart rate, bpm",
    "col_power_range": "Power, W",
    "col_speed_range": "Speed, km/h",
    "col_pace_range": "Pace, min/km",
    "col_purpose": "What it is for",
    "z3_1": "Zone 1 — below VT1",
    "z3_2": "Zone 2 — VT1 to VT2",
    "z3_3": "Zone 3 — above VT2",
    "z5_1": "Z1 Recovery",
    "z5_2": "Z2 Endurance",
    "z5_3": "Z3 Tempo",
    "z5_4": "Z4 Threshold",
    "z5_5": "Z5 VO2max",
    "z5_1_purpose": "Recovery, warm-up and cool-down",
    "z5_2_purpose": "Base endurance: long easy sessions",
    "z5_3_purpose": "Tempo: steady, moderately hard",
    "z5_4_purpose": "Threshold intervals around VT2",
    "z5_5_purpose": "Short, very hard VO2max intervals",
    "zones_none": "Zones could not be derived from this test.",
    # FATmax
    "section_fatmax": "Fat oxidation (FATmax)",
    "mfo": "Maximal fat oxidation",
    "fatmax_at": "FATmax at",
    "fat": "Fat",
    "cho": "Carbohydrate",
    "fatmax_unavailable": "FATmax was not computed: {reason}",
    "fatmax_reason_steps": "it needs a step protocol with steady-state stages",
    "col_load": "Load",
    "col_rer": "RER",
    "col_fat": "Fat, g/min",
    "col_cho": "CHO, g/min",
    "col_valid": "Valid",
    "yes": "yes",
    "no": "no",
    # lactate
    "section_lactate": "Lactate step test",
    "lactate": "Lactate",
    "col_intensity": "Intensity",
    "col_lactate": "Lactate, mmol/L",
    "lactate_fit": "Curve fit: {fit}",
    "lactate_steps": "Steps",
    # comparison
    "section_comparison": "Comparison with the previous test",
    "col_metric": "Measure",
    "col_previous": "Previous ({date})",
    "col_current": "This test ({date})",
    "col_change": "Change",
    "m_vo2max_kg": "VO2max, ml/kg/min",
    "m_vo2max_l": "VO2max, L/min",
    "m_body_mass": "Body mass, kg",
    "m_vt1_hr": "VT1 heart rate, bpm",
    "m_vt2_hr": "VT2 heart rate, bpm",
    "m_vt1_load": "VT1 {load}",
    "m_vt2_load": "VT2 {load}",
    "m_peak_load": "Peak {load}",
    "m_hr_max": "HR max, bpm",
    "load_power": "power, W",
    "load_speed": "speed, km/h",
    # methods
    "section_methods": "Methods and data processing",
    "averaging": "Averaging",
    "avg_time": "time average over {s} s",
    "avg_breath": "average of {n} breaths",
    "avg_bin": "consecutive {s}-s bins",
    "avg_butterworth": "Butterworth low-pass filter (cutoff {c}, order {o}{zl})",
    "avg_zero_lag": ", zero lag",
    "outliers": "breaths beyond {sd} SD of the local mean removed (Lamarra 1987)",
    "outliers_off": "no outlier removal",
    "vt1_methods": "VT1 methods",
    "vt2_methods": "VT2 methods",
    "threshold_choice": "Chosen value",
    "threshold_choice_text": "consensus of the automatic methods unless the physiologist set it by hand",
    "engine": "Analysis engine",
    "breaths": "{n} breaths analysed, {o} outliers removed, {e} excluded by the lab",
    "chart_note": ("Charts show a {s}-s moving average of the breath-by-breath data, at most {n} points per line "
                   "(the minimum and maximum of every interval are kept); dashed lines mark VT1 and VT2."),
    "section_quality": "Data quality notes",
    "flag_missing_channel": "channel {channel} was not recorded",
    "flag_no_load": "no power or speed recorded: protocol, load zones and norms are unavailable",
    "flag_no_body_mass": "body mass unknown: values per kilogram are unavailable",
    "flag_too_short": "the test is too short for a full analysis",
    "flag_noisy_signal": "the VO2 signal is noisy",
    "method_V-slope": "Beaver 1986: VCO2 against VO2",
    "method_EqO2": "VE/VO2 rises while VE/VCO2 does not",
    "method_ExCO2": "excess CO2 (VCO2²/VO2 − VCO2)",
    "method_PetO2": "PetO2 nadir and rise",
    "method_VE-VCO2": "VE against VCO2 slope change (RCP)",
    "method_EqCO2": "VE/VCO2 rise",
    "method_PetCO2": "PetCO2 fall",
    # charts
    "charts": "Gas exchange (Wasserman panels)",
    "ch_vo2_vco2": "VO2 and VCO2 with load",
    "ch_hr_vo2": "Heart rate and VO2",
    "ch_vslope": "V-slope: VCO2 against VO2",
    "ch_eq": "Ventilatory equivalents",
    "ch_pet": "End-tidal O2 and CO2",
    "ch_rer": "Respiratory exchange ratio",
    "ch_ve": "Ventilation",
    "ch_fatmax": "Fat and carbohydrate oxidation by stage",
    "ch_lactate": "Lactate curve",
    "ch_simple": "Your test: oxygen uptake and heart rate",
    "ax_time": "time, min",
    "ax_vo2": "VO2, ml/min",
    "ax_vco2": "VCO2, ml/min",
    "ax_ml_min": "ml/min",
    "ax_hr": "HR, bpm",
    "ax_power": "power, W",
    "ax_speed": "speed, km/h",
    "ax_eq": "VE/VO2, VE/VCO2",
    "ax_pet": "mmHg",
    "ax_rer": "RER",
    "ax_ve": "VE, L/min",
    "ax_g_min": "g/min",
    "ax_lactate": "lactate, mmol/L",
    "lg_vo2": "VO2",
    "lg_vco2": "VCO2",
    "lg_hr": "HR",
    "lg_power": "power",
    "lg_speed": "speed",
    "lg_veo2": "VE/VO2",
    "lg_veco2": "VE/VCO2",
    "lg_peto2": "PetO2",
    "lg_petco2": "PetCO2",
    "lg_rer": "RER",
    "lg_fat": "fat",
    "lg_cho": "carbohydrate",
    "lg_lactate": "lactate",
    "lg_hr_right": "HR (right axis)",
    "no_data": "not recorded in this test",
    # footer
    "page": "page {n} of {m}",
    "generated": "generated {date}",
    # athlete template
    "your_vo2max": "Your VO2max",
    "your_percentile_p": "Fitter than {p} % of {group} of your age (FRIEND registry).",
    "your_percentile_gt90": "In the top 10 % of {group} of your age (FRIEND registry).",
    "your_percentile_lt10": "Below the 10th percentile of {group} of your age (FRIEND registry): plenty of room to improve.",
    "your_percentile_band": "Between the {a}th and {b}th percentile of {group} of your age (FRIEND registry).",
    "group_male": "men",
    "group_female": "women",
    "group_any": "people",
    "vo2max_explained": ("VO2max is the most oxygen your body can take up and use per minute, per kilogram of body "
                         "mass. It is the best single measure of endurance fitness."),
    "key_numbers": "Your key numbers",
    "aerobic_threshold": "Aerobic threshold (VT1)",
    "anaerobic_threshold": "Anaerobic threshold (VT2)",
    "max_hr": "Maximal heart rate",
    "peak_load": "Peak load",
    "thresholds_explained": ("Below the aerobic threshold you can go for hours; between the thresholds effort "
                             "builds steadily; above the anaerobic threshold you tire within minutes."),
    "your_zones": "Your training zones",
    "zones_explained": ("Use the heart-rate ranges for easy and steady sessions; for intervals the power or speed "
                        "ranges react faster than heart rate."),
    "since_last": "Since your last test ({date})",
    "change_up": "up {v}",
    "change_down": "down {v}",
    "change_same": "unchanged",
    "retest": "Re-test in 8–12 weeks to see your progress.",
}

RU: dict[str, str] = {
    "brand": "VO2max Report",
    "title_full": "Кардиопульмональное нагрузочное тестирование",
    "title_athlete": "Результаты вашего нагрузочного теста",
    "subtitle_full": "Лабораторный отчёт",
    "section_athlete": "Спортсмен",
    "section_test": "Тест",
    "name": "Имя",
    "sex": "Пол",
    "sex_male": "мужской",
    "sex_female": "женский",
    "birth_date": "Дата рождения",
    "age": "Возраст",
    "body_mass": "Масса тела",
    "height": "Рост",
    "bmi": "ИМТ",
    "sport": "Вид спорта",
    "test_date": "Дата теста",
    "modality": "Эргометр",
    "protocol": "Протокол",
    "device": "Газоанализатор",
    "environment": "Условия",
    "lab": "Лаборатория",
    "operator": "Исследователь",
    "env_temperature": "{v} °C",
    "env_pressure": "{v} гПа",
    "env_pressure_mmhg": "{v} мм рт. ст.",
    "env_humidity": "влажность {v} %",
    "modality_treadmill": "беговая дорожка",
    "modality_cycle": "велоэргометр",
    "modality_rowing": "гребной эргометр",
    "modality_arm": "ручной эргометр",
    "modality_field": "полевой тест",
    "modality_other": "другое",
    "protocol_ramp": "рамповый (непрерывно нарастающий)",
    "protocol_steps": "ступенчатый",
    "protocol_constant": "постоянная нагрузка",
    "protocol_unknown": "не определён",
    "protocol_start": "старт {v} {unit}",
    "protocol_increment": "+{v} {unit}",
    "protocol_stage": "ступень {v} с",
    "u_ml_min": "мл/мин",
    "u_ml_kg_min": "мл/кг/мин",
    "u_l_min": "л/мин",
    "u_bpm": "уд/мин",
    "u_w": "Вт",
    "u_w_kg": "Вт/кг",
    "u_kmh": "км/ч",
    "u_kmh_min": "км/ч в мин",
    "u_w_min": "Вт/мин",
    "u_kg": "кг",
    "u_cm": "см",
    "u_s": "с",
    "u_min": "мин",
    "u_mmhg": "мм рт. ст.",
    "u_mmol": "ммоль/л",
    "u_g_min": "г/мин",
    "u_pace": "мин/км",
    "section_vo2max": "Максимальное потребление кислорода (МПК)",
    "vo2max": "VO2max",
    "vo2peak": "VO2peak",
    "verdict": "Заключение",
    "verdict_vo2max": "VO2max подтверждено: в конце теста потребление кислорода вышло на плато",
    "verdict_vo2peak": "VO2peak: плато нет, истинный максимум может быть выше",
    "verdict_vo2peak_ne": "VO2peak: плато оценить не удалось",
    "criteria": "Дополнительные критерии",
    "crit_rer": "ДК макс. {v} (порог ≥ {thr})",
    "crit_hr": "ЧСС макс. {v} уд/мин (должная {pred} уд/мин)",
    "crit_lactate": "лактат макс. {v} ммоль/л (порог ≥ {thr})",
    "crit_met": "выполнен",
    "crit_not_met": "не выполнен",
    "crit_not_measured": "не измерялся",
    "crit_summary": "выполнено критериев: {met} из {n}",
    "percentile": "Перцентиль FRIEND",
    "percentile_value": "{p}-й перцентиль",
    "band_gt90": "выше 90-го перцентиля",
    "band_lt10": "ниже 10-го перцентиля",
    "band_range": "между {a}-м и {b}-м перцентилями",
    "no_norm": "норматив не применён",
    "norm_source": "Норматив",
    "section_peak": "Пиковые значения",
    "peak_vo2": "VO2 пиковое",
    "peak_rer": "ДК",
    "peak_hr": "ЧСС",
    "peak_power": "Мощность",
    "peak_speed": "Скорость",
    "peak_ve": "Лёгочная вентиляция (VE)",
    "peak_vco2": "VCO2 пиковое",
    "section_thresholds": "Вентиляционные пороги",
    "vt1": "ВП1",
    "vt2": "ВП2",
    "vt1_long": "ВП1 — первый вентиляционный (аэробный) порог",
    "vt2_long": "ВП2 — второй вентиляционный порог (ПАНО, точка респираторной компенсации)",
    "col_threshold": "Порог",
    "col_method": "Метод",
    "col_time": "Время",
    "col_vo2": "VO2, мл/мин",
    "col_vo2kg": "VO2, мл/кг/мин",
    "col_pct": "% VO2max",
    "col_hr": "ЧСС, уд/мин",
    "col_power": "Мощность, Вт",
    "col_speed": "Скорость, км/ч",
    "col_confidence": "Достоверность",
    "chosen": "итог",
    "consensus": "консенсус",
    "manual": "вручную",
    "manual_note": "Порог установлен физиологом вручную; ниже — результаты автоматических методов.",
    "not_detected": "не определён",
    "thr_note": "Жирным выделены значения, по которым построены зоны; остальные строки — отдельные методы.",
    "section_zones": "Тренировочные зоны",
    "zones_three": "Трёхзонная модель (ВП1 / ВП2)",
    "zones_five": "Пятизонная модель",
    "col_zone": "Зона",
    "col_hr_range": "ЧСС, уд/мин",
    "col_power_range": "Мощность, Вт",
    "col_speed_range": "Скорость, км/ч",
    "col_pace_range": "Темп, мин/км",
    "col_purpose": "Для чего",
    "z3_1": "Зона 1 — ниже ВП1",
    "z3_2": "Зона 2 — между ВП1 и ВП2",
    "z3_3": "Зона 3 — выше ВП2",
    "z5_1": "Z1 Восстановление",
    "z5_2": "Z2 Аэробная выносливость",
    "z5_3": "Z3 Темповая",
    "z5_4": "Z4 Пороговая",
    "z5_5": "Z5 МПК",
    "z5_1_purpose": "Восстановление, разминка и заминка",
    "z5_2_purpose": "Базовая выносливость: длительная лёгкая работа",
    "z5_3_purpose": "Темповая работа: равномерно, умеренно тяжело",
    "z5_4_purpose": "Пороговые интервалы около ВП2",
    "z5_5_purpose": "Короткие очень тяжёлые интервалы на МПК",
    "zones_none": "По этому тесту зоны построить не удалось.",
    "section_fatmax": "Окисление жиров (FATmax)",
    "mfo": "Максимальное окисление жиров",
    "fatmax_at": "FATmax при",
    "fat": "Жиры",
    "cho": "Углеводы",
    "fatmax_unavailable": "FATmax не рассчитан: {reason}",
    "fatmax_reason_steps": "нужен ступенчатый протокол с устойчивым состоянием на ступенях",
    "col_load": "Нагрузка",
    "col_rer": "ДК",
    "col_fat": "Жиры, г/мин",
    "col_cho": "Углеводы, г/мин",
    "col_valid": "Достоверно",
    "yes": "да",
    "no": "нет",
    "section_lactate": "Лактатный ступенчатый тест",
    "lactate": "Лактат",
    "col_intensity": "Интенсивность",
    "col_lactate": "Лактат, ммоль/л",
    "lactate_fit": "Аппроксимация: {fit}",
    "lactate_steps": "Ступени",
    "section_comparison": "Сравнение с предыдущим тестом",
    "col_metric": "Показатель",
    "col_previous": "Предыдущий ({date})",
    "col_current": "Текущий ({date})",
    "col_change": "Изменение",
    "m_vo2max_kg": "VO2max, мл/кг/мин",
    "m_vo2max_l": "VO2max, л/мин",
    "m_body_mass": "Масса тела, кг",
    "m_vt1_hr": "ЧСС на ВП1, уд/мин",
    "m_vt2_hr": "ЧСС на ВП2, уд/мин",
    "m_vt1_load": "ВП1, {load}",
    "m_vt2_load": "ВП2, {load}",
    "m_peak_load": "Пиковая {load}",
    "m_hr_max": "ЧСС макс., уд/мин",
    "load_power": "мощность, Вт",
    "load_speed": "скорость, км/ч",
    "section_methods": "Методы и обработка данных",
    "averaging": "Усреднение",
    "avg_time": "усреднение по времени, {s} с",
    "avg_breath": "усреднение по {n} дыхательным циклам",
    "avg_bin": "последовательные интервалы по {s} с",
    "avg_butterworth": "фильтр Баттерворта нижних частот (частота среза {c}, порядок {o}{zl})",
    "avg_zero_lag": ", без фазового сдвига",
    "outliers": "удалены дыхательные циклы за пределами {sd} SD от локального среднего (Lamarra 1987)",
    "outliers_off": "выбросы не удалялись",
    "vt1_methods": "Методы ВП1",
    "vt2_methods": "Методы ВП2",
    "threshold_choice": "Итоговое значение",
    "threshold_choice_text": "консенсус автоматических методов, если физиолог не установил порог вручную",
    "engine": "Версия расчётного модуля",
    "breaths": "проанализировано дыхательных циклов: {n}, удалено выбросов: {o}, исключено лабораторией: {e}",
    "chart_note": ("Графики: скользящее среднее за {s} с по данным «вдох за вдохом», не более {n} точек на линию "
                   "(минимум и максимум каждого интервала сохранены); пунктир — ВП1 и ВП2."),
    "section_quality": "Замечания о качестве данных",
    "flag_missing_channel": "канал {channel} не записан",
    "flag_no_load": "мощность и скорость не записаны: протокол, зоны по нагрузке и нормативы недоступны",
    "flag_no_body_mass": "масса тела неизвестна: значения на килограмм недоступны",
    "flag_too_short": "тест слишком короткий для полного анализа",
    "flag_noisy_signal": "сигнал VO2 сильно зашумлён",
    "method_V-slope": "Beaver 1986: VCO2 относительно VO2",
    "method_EqO2": "рост VE/VO2 без роста VE/VCO2",
    "method_ExCO2": "избыточный CO2 (VCO2²/VO2 − VCO2)",
    "method_PetO2": "минимум и рост PetO2",
    "method_VE-VCO2": "излом VE относительно VCO2 (ТРК)",
    "method_EqCO2": "рост VE/VCO2",
    "method_PetCO2": "снижение PetCO2",
    "charts": "Газообмен (панели Вассермана)",
    "ch_vo2_vco2": "VO2 и VCO2 с нагрузкой",
    "ch_hr_vo2": "ЧСС и VO2",
    "ch_vslope": "V-slope: VCO2 относительно VO2",
    "ch_eq": "Вентиляционные эквиваленты",
    "ch_pet": "PetO2 и PetCO2 в конце выдоха",
    "ch_rer": "Дыхательный коэффициент",
    "ch_ve": "Лёгочная вентиляция",
    "ch_fatmax": "Окисление жиров и углеводов по ступеням",
    "ch_lactate": "Лактатная кривая",
    "ch_simple": "Ваш тест: потребление кислорода и ЧСС",
    "ax_time": "время, мин",
    "ax_vo2": "VO2, мл/мин",
    "ax_vco2": "VCO2, мл/мин",
    "ax_ml_min": "мл/мин",
    "ax_hr": "ЧСС, уд/мин",
    "ax_power": "мощность, Вт",
    "ax_speed": "скорость, км/ч",
    "ax_eq": "VE/VO2, VE/VCO2",
    "ax_pet": "мм рт. ст.",
    "ax_rer": "ДК",
    "ax_ve": "VE, л/мин",
    "ax_g_min": "г/мин",
    "ax_lactate": "лактат, ммоль/л",
    "lg_vo2": "VO2",
    "lg_vco2": "VCO2",
    "lg_hr": "ЧСС",
    "lg_power": "мощность",
    "lg_speed": "скорость",
    "lg_veo2": "VE/VO2",
    "lg_veco2": "VE/VCO2",
    "lg_peto2": "PetO2",
    "lg_petco2": "PetCO2",
    "lg_rer": "ДК",
    "lg_fat": "жиры",
    "lg_cho": "углеводы",
    "lg_lactate": "лактат",
    "lg_hr_right": "ЧСС (правая ось)",
    "no_data": "в этом тесте не записано",
    "page": "стр. {n} из {m}",
    "generated": "сформирован {date}",
    "your_vo2max": "Ваш VO2max (МПК)",
    "your_percentile_p": "Выше, чем у {p} % {group} вашего возраста (реестр FRIEND).",
    "your_percentile_gt90": "В 10 % лучших среди {group} вашего возраста (реестр FRIEND).",
    "your_percentile_lt10": "Ниже 10-го перцентиля среди {group} вашего возраста (реестр FRIEND): есть куда расти.",
    "your_percentile_band": "Между {a}-м и {b}-м перцентилями среди {group} вашего возраста (реестр FRIEND).",
    "group_male": "мужчин",
    "group_female": "женщин",
    "group_any": "людей",
    "vo2max_explained": ("VO2max (МПК) — наибольшее количество кислорода, которое организм может поглотить и "
                         "использовать за минуту на килограмм массы тела. Это главный показатель выносливости."),
    "key_numbers": "Ваши ключевые показатели",
    "aerobic_threshold": "Аэробный порог (ВП1)",
    "anaerobic_threshold": "Анаэробный порог (ВП2)",
    "max_hr": "Максимальная ЧСС",
    "peak_load": "Пиковая нагрузка",
    "thresholds_explained": ("Ниже аэробного порога можно работать часами; между порогами усталость "
                             "накапливается постепенно; выше анаэробного порога силы кончаются за минуты."),
    "your_zones": "Ваши тренировочные зоны",
    "zones_explained": ("Для лёгких и равномерных тренировок ориентируйтесь на ЧСС; в интервалах мощность или "
                        "скорость реагируют быстрее пульса."),
    "since_last": "С прошлого теста ({date})",
    "change_up": "рост на {v}",
    "change_down": "снижение на {v}",
    "change_same": "без изменений",
    "retest": "Повторите тест через 8–12 недель, чтобы увидеть прогресс.",
}

# Added for issue 15: plural forms, the engine's words said in the report's language, the lactate layout, the
# conclusion and the lab's branding. Plural entries are tuples: English (one, other), Russian (one, few, many).
EN.update({
    "age_value": ("{n} year", "{n} years"),
    "years_range": "{a}–{b} years",
    "norm_text": "FRIEND registry {year}, {modality} ({citation})",
    "norm_group": "{group}, {range}",
    "norm_group_male": "men",
    "norm_group_female": "women",
    "modality_running": "treadmill",
    "modality_cycling": "cycle ergometer",
    "method_combined": "combined",
    "method_VE/VO2": "VE/VO2 rises while VE/VCO2 does not",
    "method_VE/VCO2": "VE/VCO2 rise",
    "method_label_combined": "combined methods",
    "threshold_choice_combined": "a weighted combination of the automatic methods (fitted on labelled tests), "
                                 "unless the physiologist set it by hand",
    "fatmax_method_frayn": "Frayn 1983 stoichiometric equations (non-protein)",
    "fatmax_reason_other": "the data do not allow it",
    "fatmax_reason_ramp": "it needs a step protocol with steady-state stages; this test is a ramp",
    "methods_result_version": "Result version",
    "engine_footer": "analysis {v}",
    "sev_info": "note",
    "sev_warning": "warning",
    "sev_error": "error",
    "flag_generic": "see the laboratory's quality check",
    "flag_body_mass_invalid": "the body mass is outside 10–400 kg and was ignored",
    "flag_athlete_mismatch": "the athlete in the file and the athlete on record disagree",
    "flag_load_from_declared_protocol": "the load was taken from the declared protocol",
    "flag_analysis_error": "part of the analysis failed",
    "flag_length_mismatch": "the data columns had different lengths",
    "flag_missing_time": "some breaths had no time stamp and were left out",
    "flag_duplicate_time": "repeated time stamps were left out",
    "flag_units_suspicious": "the time column looks unusual (median breath interval above 30 s): check the export",
    "flag_window_fallback": "the averaged data do not cover the exercise phase; the whole test was used",
    "flag_no_rer": "the respiratory exchange ratio could not be computed",
    "flag_thresholds_not_applicable": "no incremental phase: thresholds do not apply",
    "flag_thresholds_not_computed": "too few data in the incremental phase for thresholds",
    "flag_threshold_order": "VT1 is not below VT2: check the thresholds",
    "flag_insufficient": "the test cannot yield a VO2max",
    "flag_too_few_steps": "at least 4 lactate steps are needed",
    "flag_intensity_not_increasing": "the step intensities do not increase",
    "flag_fit_failed": "the lactate curve could not be fitted",
    "flag_some_methods_undetermined": "some lactate methods found no threshold",
    "channel_hr_bpm": "heart rate",
    "channel_peto2_mmhg": "PetO2",
    "channel_petco2_mmhg": "PetCO2",
    "channel_vo2_ml_min": "VO2",
    "channel_vco2_ml_min": "VCO2",
    "channel_ve_l_min": "ventilation",
    "channel_rf_bpm": "breathing frequency",
    "channel_vt_l": "tidal volume",
    "channel_other": "a data channel",
    "ch_phase_baseline": "rest",
    "ch_phase_warmup": "warm-up",
    "ch_phase_constant": "constant",
    "ch_phase_incremental": "incremental",
    "ch_phase_recovery": "recovery",
    "phases_note": "Shaded: the phases of the test (rest, warm-up, incremental part, recovery).",
    "zones_explained_no_hr": ("This test has no heart-rate recording: train by the power or speed ranges, and "
                              "re-test with a heart-rate strap to get heart-rate zones."),
    "lactate_chosen": "Chosen thresholds: LT1 by {m1}, LT2 by {m2}.",
    "lactate_chosen_col": "chosen",
    "lt1": "LT1",
    "lt2": "LT2",
    "lactate_zones": "Lactate-based zones",
    "lz_1": "Zone 1 — below LT1",
    "lz_2": "Zone 2 — LT1 to LT2",
    "lz_3": "Zone 3 — above LT2",
    "col_intensity_unit": "Intensity, {unit}",
    "lactate_fit_monotone": ("The line joins the measured points with a monotone curve (never below the lowest "
                             "measured lactate); thresholds are computed by each method as published."),
    "lactate_conventions": "threshold methods as in the lactater package (Mattioni Maturana)",
    "section_lactate_thresholds": "Lactate thresholds",
    "title_lactate": "Lactate step test",
    "hr_at_threshold": "HR at the threshold",
    "section_conclusion": "Physiologist's conclusion",
    "brand_default": "Exercise physiology laboratory",
    "lab_contact": "Contact",
    "lab_address": "Address",
    "meaningful_yes": "beyond measurement noise",
    "meaningful_no": "within measurement noise (±{pct} %)",
    "col_meaningful": "Meaningful",
    "no_hr_recorded": "not recorded",
    "outliers_not_applied": "no outlier removal (the data are averaged, not breath-by-breath)",
    "outliers_band": "breaths outside the {level} % prediction band of the trend removed",
    "ch_simple_no_hr": "Your test: oxygen uptake",
})

RU.update({
    "age_value": ("{n} год", "{n} года", "{n} лет"),
    "years_range": "{a}–{b} лет",
    "norm_text": "реестр FRIEND {year}, {modality} ({citation})",
    "norm_group": "{group}, {range}",
    "norm_group_male": "мужчины",
    "norm_group_female": "женщины",
    "modality_running": "беговая дорожка",
    "modality_cycling": "велоэргометр",
    "method_combined": "комбинированный",
    "method_VE/VO2": "рост VE/VO2 без роста VE/VCO2",
    "method_VE/VCO2": "рост VE/VCO2",
    "method_label_combined": "комбинация методов",
    "threshold_choice_combined": "взвешенная комбинация автоматических методов (подобрана по размеченным тестам), "
                                 "если физиолог не установил порог вручную",
    "fatmax_method_frayn": "стехиометрические уравнения Frayn 1983 (без учёта белка)",
    "fatmax_reason_other": "данные теста этого не позволяют",
    "fatmax_reason_ramp": "нужен ступенчатый протокол с устойчивым состоянием на ступенях, а этот тест рамповый",
    "methods_result_version": "Версия результата",
    "engine_footer": "расчёт {v}",
    "sev_info": "примечание",
    "sev_warning": "внимание",
    "sev_error": "ошибка",
    "flag_generic": "см. проверку качества в лаборатории",
    "flag_body_mass_invalid": "масса тела вне диапазона 10–400 кг и не учитывалась",
    "flag_athlete_mismatch": "данные спортсмена в файле и в карточке не совпадают",
    "flag_load_from_declared_protocol": "нагрузка взята из заявленного протокола",
    "flag_analysis_error": "часть расчёта не удалась",
    "flag_length_mismatch": "столбцы данных были разной длины",
    "flag_missing_time": "дыхательные циклы без отметки времени исключены",
    "flag_duplicate_time": "повторяющиеся отметки времени исключены",
    "flag_units_suspicious": "столбец времени выглядит необычно (медианный интервал между вдохами больше 30 с): "
                             "проверьте экспорт",
    "flag_window_fallback": "усреднённые данные не покрывают фазу нагрузки; использован весь тест",
    "flag_no_rer": "дыхательный коэффициент рассчитать не удалось",
    "flag_thresholds_not_applicable": "нет фазы нарастающей нагрузки: пороги не определяются",
    "flag_thresholds_not_computed": "слишком мало данных в фазе нарастающей нагрузки для порогов",
    "flag_threshold_order": "ВП1 не ниже ВП2: проверьте пороги",
    "flag_insufficient": "по этому тесту нельзя определить МПК",
    "flag_too_few_steps": "нужно не менее 4 ступеней с лактатом",
    "flag_intensity_not_increasing": "интенсивность ступеней не возрастает",
    "flag_fit_failed": "лактатную кривую аппроксимировать не удалось",
    "flag_some_methods_undetermined": "часть лактатных методов порог не нашла",
    "channel_hr_bpm": "ЧСС",
    "channel_peto2_mmhg": "PetO2",
    "channel_petco2_mmhg": "PetCO2",
    "channel_vo2_ml_min": "VO2",
    "channel_vco2_ml_min": "VCO2",
    "channel_ve_l_min": "вентиляция",
    "channel_rf_bpm": "частота дыхания",
    "channel_vt_l": "дыхательный объём",
    "channel_other": "канал данных",
    "ch_phase_baseline": "покой",
    "ch_phase_warmup": "разминка",
    "ch_phase_constant": "постоянная",
    "ch_phase_incremental": "нарастающая",
    "ch_phase_recovery": "восстановление",
    "phases_note": "Заливкой показаны фазы теста (покой, разминка, нарастающая нагрузка, восстановление).",
    "zones_explained_no_hr": ("В этом тесте ЧСС не записывалась: тренируйтесь по диапазонам мощности или "
                              "скорости, а для зон по пульсу повторите тест с нагрудным датчиком."),
    "lactate_chosen": "Итоговые пороги: ЛП1 по методу {m1}, ЛП2 по методу {m2}.",
    "lactate_chosen_col": "итог",
    "lt1": "ЛП1",
    "lt2": "ЛП2",
    "lactate_zones": "Зоны по лактату",
    "lz_1": "Зона 1 — ниже ЛП1",
    "lz_2": "Зона 2 — между ЛП1 и ЛП2",
    "lz_3": "Зона 3 — выше ЛП2",
    "col_intensity_unit": "Интенсивность, {unit}",
    "lactate_fit_monotone": ("Линия соединяет измеренные точки монотонной кривой (не ниже наименьшего измеренного "
                             "лактата); пороги рассчитаны каждым методом по его опубликованному описанию."),
    "lactate_conventions": "методы порогов как в пакете lactater (Mattioni Maturana)",
    "section_lactate_thresholds": "Лактатные пороги",
    "title_lactate": "Лактатный ступенчатый тест",
    "hr_at_threshold": "ЧСС на пороге",
    "section_conclusion": "Заключение физиолога",
    "brand_default": "Лаборатория функциональной диагностики",
    "lab_contact": "Контакты",
    "lab_address": "Адрес",
    "meaningful_yes": "больше погрешности измерения",
    "meaningful_no": "в пределах погрешности измерения (±{pct} %)",
    "col_meaningful": "Значимость",
    "no_hr_recorded": "не записана",
    "outliers_not_applied": "выбросы не удалялись (данные усреднены, а не «вдох за вдохом»)",
    "outliers_band": "удалены дыхательные циклы вне {level} % интервала предсказания тренда",
    "ch_simple_no_hr": "Ваш тест: потребление кислорода",
})

LABELS = {"en": EN, "ru": RU}

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def check_language(lang: str) -> str:
    if lang not in LABELS:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    return lang


def t(lang: str, key: str, **fields) -> str:
    text = LABELS[lang].get(key)
    if text is None:
        text = EN.get(key, key)
    if isinstance(text, tuple):  # a plural entry asked for without a count: the "many" form
        text = text[-1]
    return text.format(**fields) if fields else text


def plural_form(lang: str, n) -> int:
    """Index of the plural form for the count n: English one/other, Russian one/few/many (CLDR rules for
    integers; a fraction takes the "few" form in Russian, as in "1,5 года")."""
    f = finite(n)
    if f is None:
        return -1
    if f != int(f):
        return 1
    i = abs(int(f))
    if lang == "ru":
        if i % 10 == 1 and i % 100 != 11:
            return 0
        if 2 <= i % 10 <= 4 and not 12 <= i % 100 <= 14:
            return 1
        return 2
    return 0 if i == 1 else 1


def tn(lang: str, key: str, n, decimals: int = 0, **fields) -> str:
    """A plural entry for the count n, with {n} printed in the language's number format."""
    forms = LABELS[lang].get(key) or EN[key]
    if not isinstance(forms, tuple):
        forms = (forms,)
    text = forms[min(plural_form(lang, n), len(forms) - 1)] if finite(n) is not None else forms[-1]
    return text.format(n=num(n, decimals, lang), **fields)


def finite(value) -> float | None:
    """A float when `value` is a finite number, else None (None, NaN, strings, booleans)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def num(value, decimals: int = 0, lang: str = "en", *, signed: bool = False) -> str:
    f = finite(value)
    if f is None:
        return DASH
    text = f"{abs(f):.{decimals}f}"
    if float(text) == 0:
        f = 0.0
    if lang == "ru":
        text = text.replace(".", ",")
    if f < 0:
        return MINUS + text
    return ("+" + text) if signed and f > 0 else text


def num_range(pair, decimals: int, lang: str) -> str:
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:
        return DASH
    lo, hi = finite(pair[0]), finite(pair[1])
    if lo is None and hi is None:
        return DASH
    return f"{num(lo, decimals, lang)}–{num(hi, decimals, lang)}"


def clock(seconds) -> str:
    """mm:ss (h:mm:ss past an hour)."""
    f = finite(seconds)
    if f is None:
        return DASH
    total = int(round(f))
    sign = MINUS if total < 0 else ""
    total = abs(total)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h}:{m:02d}:{s:02d}" if h else f"{sign}{m}:{s:02d}"


def pace(speed_kmh) -> str:
    """km/h → min:ss per km."""
    f = finite(speed_kmh)
    if f is None or f <= 0.5:
        return DASH
    return clock(3600.0 / f)


def date(value, lang: str) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                value = dt.date.fromisoformat(value[:10])
            except ValueError:
                return value
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        return str(value)
    if lang == "ru":
        return f"{value.day:02d}.{value.month:02d}.{value.year}"
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"
