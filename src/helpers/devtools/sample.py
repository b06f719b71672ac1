"""Deterministic synthetic extracts: the bundled sample, eight quarters 2020Q2..2022Q1.

`write_sample(data_root)` writes every extract of docs/contract/EXTRACTS.md for
each quarter into `<data_root>/<Q>/` (plain UTF-8 CSV, `YYYY-MM-DD HH:MM:SS`,
booleans 1/0) plus the quarter's editorial markdown. The records are random but
the counts behind every figure are fixed: for 2022Q1 and its prior year 2021Q1 by
the hand-chosen `TARGETS` below, so that METRICS.md's formulas, printed with its
rules, give exactly the figures of docs/reference/2022Q1.yaml; for the six other
quarters by a model anchored on those two (trend x season x noise, `targets`).
`python -m helpers.devtools.sample [--data DIR] [--scale N]` does the same from the
command line (`make sample-data [SCALE=N]`).

How the exact counts survive the randomness: each file's rows are split into
"cells" (e.g. line 综合 × answered within 20 s × 外包) with fixed totals. Rows are
generated a few days at a time; each chunk draws its share of every cell from
what is left (multivariate hypergeometric), i.e. a random permutation of the
whole quarter done piecewise, so totals are exact and memory stays bounded.

Determinism: one numpy Generator per (quarter, file), seeded from a fixed base
and a CRC of the names; nothing depends on time, dict/set order or the machine.
See docs/sample-data.md.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from helpers import paths
from helpers.data.schema import (
    AGENT_TYPES,
    EDITORIAL_FILES,
    FILES,
    KB_ACTIONS,
    LINES,
    RATINGS,
    ROUTES,
    SMART_CHANNELS,
    SURVEY_CHANNELS,
    TICKET_TYPES,
)
from helpers.quarter import Quarter

BASE_SEED = 20220331
CHUNK_ROWS = 400_000  # rows generated and written at a time (bounds memory at SCALE=10)
EDITORIAL_SOURCE = Path(__file__).resolve().parent / "sample_editorial"
# The sample's eight consecutive quarters. 2022Q1 and its prior year 2021Q1 are the
# anchors: every count chosen by hand (TARGETS) so that 2022Q1 reprints the bulletin.
# The other six are modelled from the anchors (trend x season x noise, `targets`).
QUARTERS = ("2020Q2", "2020Q3", "2020Q4", "2021Q1", "2021Q2", "2021Q3", "2021Q4", "2022Q1")
ANCHORS = ("2022Q1", "2021Q1")  # the columns of TARGETS

# ---------------------------------------------------------------------------
# THE TARGET TABLE: every count the sample is built to hit.
#
# key -> (2022Q1 value, 2021Q1 value), the two anchor quarters (the other sample
# quarters are modelled from them, below). Volumes are multiplied by SCALE; keys
# marked [fixed] are counts of items and do not scale. The comment says what
# the 2022Q1 value prints as (METRICS.md rules: half-up, two decimals; 万 = /10000)
# and why the 2021Q1 value was chosen. Every ratio below is a ratio of two scaled
# counts, so every printed rate and change is the same at any SCALE.
# Checked by tests/test_sample.py against docs/reference/2022Q1.yaml.
# ---------------------------------------------------------------------------
TARGETS: dict[str, tuple[object, object]] = {
    # inbound_calls.csv, line 综合 ------------------------------------------
    "general.requests": (337_800, 291_460),  # 33.78万 (any count in [337750, 337850))
    "general.answered": (319_390, 272_300),  # 31.94万; /requests = 94.5500% -> 94.55%
    "general.within_t": (288_076, 242_900),  # answered <= 20 s; /requests = 85.2800% -> 85.28%
    "general.outsourced": (146_472, 118_000),  # 14.65万; /answered = 45.8599% -> 45.86%
    # inbound_calls.csv, line 信用卡 -----------------------------------------
    "credit.requests": (215_500, 176_530),  # 21.55万
    "credit.answered": (209_143, 169_900),  # 20.91万; /requests = 97.0501% -> 97.05%
    "credit.within_t": (182_313, 146_100),  # /requests = 84.6000% -> 84.60%
    # 8.55万; /answered = 40.8811% -> 40.88% (the seed's 43.88% is inconsistent:
    # 8.55万 of 20.91万 is always 40.86%-40.92%)
    "credit.outsourced": (85_500, 71_300),
    # online_chats.csv --------------------------------------------------------
    "online.requests": (81_600, 57_271),  # 8.16万; 81600/57271 - 1 = 42.4805% -> 42.48%
    "online.answered": (75_513, 52_100),  # 7.55万; /requests = 92.5404% -> 92.54%
    "online.within_t": (67_467, 45_400),  # /requests = 82.6801% -> 82.68%
    "online.outsourced": (30_200, 20_000),  # not printed
    # surveys.csv: ratings in RATINGS order (非常满意, 满意, 一般, 不满意, 非常不满意)
    # 语音: 150200 = 15.02万; 142014/150200 = 94.5499% -> 94.55%;
    #       (142014 + 7615)/150200 = 99.6198% -> 99.62%
    "survey.语音": ((142_014, 7_615, 420, 110, 41), (120_500, 7_300, 410, 140, 50)),
    # 在线: 7300 responses, (5600 + 1100)/7300 = 91.7808% -> 91.78%
    "survey.在线": ((5_600, 1_100, 420, 130, 50), (3_900, 900, 230, 50, 20)),
    # 视频: 1050 responses, (980 + 60)/1050 = 99.0476% -> 99.05%
    "survey.视频": ((980, 60, 7, 2, 1), (560, 50, 6, 3, 1)),
    # outbound_calls.csv -------------------------------------------------------
    "outbound.calls": (588_700, 314_628),  # 58.87万; 588700/314628 - 1 = 87.1105% -> 87.11%
    "outbound.services": (19, 16),  # [fixed] distinct services: 19 项
    # smart_sessions.csv -------------------------------------------------------
    # robot 18.99万; 189860/130282 - 1 = 45.7301% -> 45.73%
    "robot.sessions": (189_860, 130_282),
    # not transferred; 110423/189860 = 58.1602% -> 58.16% (文本分流率)
    "robot.resolved": (110_423, 67_700),
    # Σ standard_answers / Σ questions, in per mille: 89.20% (kept within 0.5/Σquestions)
    "robot.standard_per_mille": (892, 874),
    # voice nav 5.75万; smart.sessions = 189860 + 57460 = 247320 -> 24.73万, and
    # 247320/(130282 + 73391) - 1 = 21.4300% -> 21.43%
    "voice.sessions": (57_460, 73_391),
    "voice.recognized": (55_840, 70_500),  # 55840/57460 = 97.1806% -> 97.18%
    # not transferred (all recognized). smart.resolved = 110423 + 3557 = 113980;
    # diversion = 113980/(113980 + 337800 + 215500 + 81600) = 15.2201% -> 15.22%;
    # 2021Q1: 70814/(70814 + 291460 + 176530 + 57271) = 11.8798%, change 3.34 个百分点
    "voice.resolved": (3_557, 3_114),
    # video_sessions.csv: 2972 笔 in all; typed rows in VIDEO_TYPES order
    # (理财咨询 444 = 59.12% of 751, 手机发证 115 = 15.31%, 身份证更新 98 = 13.05%,
    #  辅助发证 80 = 10.65%, 在线注册 9 = 1.20%, 粉丝引流 5 = 0.67%); the rest untyped
    "video.sessions": (2_972, 1_850),
    "video.business": ((444, 115, 98, 80, 9, 5), (260, 95, 61, 40, 3, 0)),
    # sms_batches.csv: Σ recipients 6.04万 over 3 services [services fixed; batches fixed,
    # recipients per batch scale]
    "sms.recipients": (60_400, 48_200),
    # feedback.csv [fixed]: 33 条 = 4 已优化 + 29 列入计划 + 0 待反馈
    "feedback.status": ((4, 29, 0), (6, 19, 2)),
    # tickets.csv: 34309 笔; 34309/31393 - 1 = 9.2887% -> 9.29%
    "tickets.total": (34_309, 31_393),
    "tickets.complaints_received": (2_562, 2_380),  # request_type 投诉
    # complaint tickets (ticket_type 投诉, all from 投诉 requests), by routed_to:
    # 2022Q1 71 分支行 + 80 总行部室 = 151; 2021Q1 122 + 166 = 288
    # -> 151 - 288 = -137, -47.57%; 71 - 122 = -51, -41.80%; 80 - 166 = -86, -51.81%.
    # 2562 - 151 = 2411 complaints converted (to 建议/疑难 tickets).
    "tickets.complaint_branch": (71, 122),
    "tickets.complaint_hq": (80, 166),
    # kb_changes.csv [fixed]: 510 项 = 96 梳理优化 rows over 42 sections + 190 新增 + 224 优化;
    # Σ knowledge_points over 新增/优化 = 648
    "kb.reviews": (96, 90),
    "kb.sections_reviewed": (42, 38),
    "kb.new": (190, 160),
    "kb.improved": (224, 210),
    "kb.knowledge_points": (648, 590),
    # training.csv [fixed]: 616 场次 (2021Q1 508 -> 616/508 - 1 = 21.26%; the seed's
    # 21.27% is inconsistent), 9000 attendances = 0.90万, 4141.99 hours over
    # 664 people = 6.2379 -> 6.24
    "training.sessions": (616, 508),
    "training.attendances": (9_000, 7_350),
    "training.staff": (664, 610),
    "training.hours_centi": (414_199, 338_875),  # hours in hundredths: 4141.99 / 3388.75
}

# Awards [fixed]: (month, category, winner, leader) as the reference lists them.
AWARDS: dict[str, tuple[tuple[int, str, str, str], ...]] = {
    "2022Q1": (
        (1, "综合优秀班组", "综合1组", "黄琦"),
        (2, "综合优秀班组", "综合3组", "赵玲"),
        (3, "综合优秀班组", "综合3组", "赵玲"),
        (1, "信用卡优秀班组", "信用卡1组", "储惠"),
        (2, "信用卡优秀班组", "信用卡4组", "刘静"),
        (3, "信用卡优秀班组", "信用卡6组", "王军蓉"),
        (1, "综合绩效之星", "李怡珊", ""),
        (2, "综合绩效之星", "李怡珊", ""),
        (3, "综合绩效之星", "李怡珊", ""),
        (1, "信用卡绩效之星", "王欢", ""),
        (2, "信用卡绩效之星", "王欢", ""),
        (3, "信用卡绩效之星", "马婷婷", ""),
        (1, "呼出绩效之星", "袁家欢", ""),
        (2, "呼出绩效之星", "包淑敏", ""),
        (3, "呼出绩效之星", "陶春影", ""),
    ),
    "2021Q1": (
        (1, "综合优秀班组", "综合2组", "孙蕾"),
        (2, "综合优秀班组", "综合2组", "孙蕾"),
        (3, "综合优秀班组", "综合5组", "周倩"),
        (1, "信用卡优秀班组", "信用卡3组", "吴敏"),
        (2, "信用卡优秀班组", "信用卡1组", "储惠"),
        (3, "信用卡优秀班组", "信用卡3组", "吴敏"),
        (1, "综合绩效之星", "陈晓雯", ""),
        (2, "综合绩效之星", "李怡珊", ""),
        (3, "综合绩效之星", "李怡珊", ""),
        (1, "信用卡绩效之星", "王欢", ""),
        (2, "信用卡绩效之星", "许静", ""),
        (3, "信用卡绩效之星", "许静", ""),
        (1, "呼出绩效之星", "包淑敏", ""),
        (2, "呼出绩效之星", "包淑敏", ""),
        (3, "呼出绩效之星", "杨帆", ""),
    ),
}

# Awards of the modelled quarters are drawn (`_awards`) from these: teams with their
# leaders, and the staff who win the stars.
_TEAMS = {
    "综合优秀班组": (
        ("综合1组", "黄琦"),
        ("综合2组", "孙蕾"),
        ("综合3组", "赵玲"),
        ("综合4组", "方圆"),
        ("综合5组", "周倩"),
        ("综合6组", "程璐"),
    ),
    "信用卡优秀班组": (
        ("信用卡1组", "储惠"),
        ("信用卡2组", "汪洁"),
        ("信用卡3组", "吴敏"),
        ("信用卡4组", "刘静"),
        ("信用卡5组", "胡静怡"),
        ("信用卡6组", "王军蓉"),
    ),
}
_STARS = {
    "综合绩效之星": ("陈晓雯", "李怡珊", "张雨晴", "何佳", "刘梦瑶"),
    "信用卡绩效之星": ("王欢", "许静", "马婷婷", "朱文婷"),
    "呼出绩效之星": ("包淑敏", "杨帆", "袁家欢", "陶春影", "丁月"),
}
# The training roster's first staff number (turnover: new hires get higher numbers).
_FIRST_STAFF = {
    "2020Q2": 1,
    "2020Q3": 1,
    "2020Q4": 1,
    "2021Q1": 1,
    "2021Q2": 12,
    "2021Q3": 25,
    "2021Q4": 40,
    "2022Q1": 55,
}

VIDEO_TYPES = ("理财咨询", "手机发证", "身份证更新", "辅助发证", "在线注册", "粉丝引流")

# Outbound services: (name, weight in the mix, connect rate). The last three are
# new in 2022 (the 2021Q1 sample uses the first 16).
OUTBOUND_SERVICES = (
    ("信用卡逾期提醒", 22.0, 0.55),
    ("信用卡分期邀约", 16.0, 0.48),
    ("风险提示", 12.0, 0.62),
    ("信用卡激活提醒", 10.0, 0.52),
    ("客户身份信息核实", 8.0, 0.58),
    ("理财到期提醒", 6.0, 0.66),
    ("贷款还款提醒", 5.0, 0.63),
    ("账户异动核实", 4.0, 0.71),
    ("电子银行签约回访", 3.0, 0.57),
    ("信用卡额度调整通知", 2.5, 0.60),
    ("手机银行活动邀约", 2.2, 0.45),
    ("投诉回访", 2.0, 0.80),
    ("新开户回访", 1.6, 0.67),
    ("睡眠账户激活提醒", 1.3, 0.38),
    ("代发工资客户营销", 1.0, 0.50),
    ("满意度回访", 0.8, 0.70),
    ("信用卡智能语音催收", 3.0, 0.42),
    ("党员政治生日祝福", 0.6, 0.75),
    ("视频客服预约回访", 0.3, 0.83),
)

# SMS services: (name, share of recipients, batches in the quarter).
SMS_SERVICES = {
    "2022Q1": (
        ("客户身份信息核实提醒", 0.46, 24),
        ("信用卡账单补寄通知", 0.36, 13),
        ("理财产品到期提醒", 0.18, 9),
    ),
    "2021Q1": (
        ("信用卡账单补寄通知", 0.41, 13),
        ("理财产品到期提醒", 0.27, 9),
        ("春节期间服务安排提示", 0.32, 4),
    ),
    "2020Q2": (
        ("信用卡账单补寄通知", 0.44, 12),
        ("理财产品到期提醒", 0.30, 8),
        ("疫情期间线上服务指引", 0.26, 5),
    ),
    "2020Q3": (
        ("信用卡账单补寄通知", 0.47, 13),
        ("理财产品到期提醒", 0.33, 9),
        ("国庆中秋期间服务安排提示", 0.20, 4),
    ),
    "2020Q4": (
        ("信用卡账单补寄通知", 0.45, 13),
        ("理财产品到期提醒", 0.29, 9),
        ("防范电信网络诈骗提示", 0.26, 5),
    ),
    "2021Q2": (
        ("信用卡账单补寄通知", 0.43, 13),
        ("理财产品到期提醒", 0.30, 9),
        ("防范电信网络诈骗提示", 0.27, 5),
    ),
    "2021Q3": (
        ("客户身份信息核实提醒", 0.36, 16),
        ("信用卡账单补寄通知", 0.40, 13),
        ("理财产品到期提醒", 0.24, 9),
    ),
    "2021Q4": (
        ("客户身份信息核实提醒", 0.42, 21),
        ("信用卡账单补寄通知", 0.38, 13),
        ("元旦春节期间服务安排提示", 0.20, 4),
    ),
}

FEEDBACK = (
    ("零售金融部", "客户反映手机银行转账限额调整入口较深，建议在转账页面增加快捷入口"),
    ("信用卡中心", "多名客户询问账单分期提前结清的手续费计算方式，建议在账单页说明"),
    ("电子银行部", "老年客户反映手机银行字体偏小，建议上线大字版界面"),
    ("运营管理部", "客户反映部分网点预约取现短信未注明办理时限"),
    ("信用卡中心", "客户希望信用卡账单补寄可通过微信银行自助申请"),
    ("零售金融部", "客户反映理财产品到期后资金到账时间说明不清晰"),
    ("电子银行部", "客户反映微信银行绑卡时验证码偶发延迟"),
    ("信息科技部", "手机银行部分安卓机型登录页面显示不全"),
    ("消费者权益保护部", "客户建议在投诉处理完成后增加短信结果告知"),
    ("零售金融部", "客户询问个人养老金业务开办时间，建议统一对外口径"),
    ("信用卡中心", "客户反映信用卡激活短信链接在部分手机上无法打开"),
    ("运营管理部", "客户反映身份证到期后账户受限，希望线上更新身份证信息"),
    ("电子银行部", "客户建议手机银行交易明细支持按金额筛选"),
    ("公司金融部", "企业客户反映对公账户年检材料清单不易查询"),
    ("信用卡中心", "客户反映分期邀约电话频次较高，建议控制外呼间隔"),
    ("零售金融部", "客户建议大额存单产品增加线上预约额度功能"),
    ("网络金融部", "客户反映网上商城积分兑换商品配送进度无法查询"),
    ("运营管理部", "客户反映异地网点办理挂失补卡需等待时间较长"),
    ("电子银行部", "客户建议手机银行增加电子回单批量下载"),
    ("信用卡中心", "客户反映境外消费退款入账时间说明不足"),
    ("零售金融部", "客户询问储蓄国债发行额度，建议提前在渠道公告"),
    ("普惠金融部", "小微企业主反映线上贷款续贷流程提示不够明确"),
    ("信息科技部", "网银在新版浏览器下个别页面按钮失效"),
    ("信用卡中心", "客户建议汽车分期卡增加视频面签预约时段"),
    ("电子银行部", "客户反映手机银行生活缴费缺少部分地区燃气缴费"),
    ("消费者权益保护部", "客户反映营销短信退订方式不够醒目"),
    ("运营管理部", "客户反映自助设备存款凭条字迹偏淡"),
    ("零售金融部", "客户建议社保卡激活增加线上渠道"),
    ("信用卡中心", "客户反映信用卡额度临时调整到期前缺少提醒"),
    ("网络金融部", "客户建议在手机银行话题板块增加理财知识问答"),
    ("电子银行部", "客户反映人脸识别认证在弱光环境下失败率较高"),
    ("零售金融部", "客户反映代发工资账户开户资料要求各网点不一致"),
    ("信用卡中心", "客户建议账单日可在手机银行自助修改"),
    ("运营管理部", "客户反映疫情期间网点营业时间调整通知不及时"),
    ("电子银行部", "客户建议转账成功后支持分享电子凭证"),
)

KB_SECTIONS = (
    "借记卡",
    "信用卡申请",
    "信用卡账单",
    "信用卡分期",
    "信用卡积分",
    "信用卡还款",
    "手机银行",
    "网上银行",
    "微信银行",
    "个人存款",
    "大额存单",
    "储蓄国债",
    "理财产品",
    "基金代销",
    "保险代理",
    "个人贷款",
    "住房按揭",
    "消费贷款",
    "汽车分期",
    "小微贷款",
    "对公账户",
    "对公结算",
    "代发工资",
    "社保卡",
    "ETC",
    "外汇业务",
    "跨境汇款",
    "挂失补卡",
    "账户管理",
    "身份核实",
    "反电诈",
    "投诉处理",
    "网点服务",
    "自助设备",
    "收费标准",
    "利率公告",
    "疫情服务",
    "视频客服",
    "短信通知",
    "积分商城",
    "第三方支付",
    "贵金属",
    "养老金融",
    "数字人民币",
    "营销活动",
    "电子回单",
    "密码服务",
    "境外用卡",
)

TRAINING_TOPICS = (
    "新业务知识宣导",
    "信用卡分期政策解读",
    "投诉处理技巧",
    "服务礼仪与话术",
    "反电信网络诈骗",
    "消费者权益保护",
    "理财产品知识",
    "系统操作培训",
    "工单填写规范",
    "情绪管理与压力疏导",
    "数字人民币业务",
    "疫情防控服务口径",
    "质检案例分享",
    "外包新员工岗前培训",
    "季度业务考试辅导",
    "个人信息保护",
    "智能客服知识维护",
    "视频客服操作",
)

# Day weights by profile: (workday, rest day, Spring Festival).
_DAY_WEIGHTS = {
    "hotline": (1.00, 0.72, 0.50),
    "selfservice": (1.00, 0.85, 0.65),
    "outbound": (1.00, 0.30, 0.05),
    "video": (1.00, 0.35, 0.10),
}
# Hour-of-day curves: (workday, rest day). Peaks 9-11 and 14-16; 24-hour lines keep
# a little traffic at night; outbound and video work office hours only.
_HOURS = {
    "hotline": (
        (
            0.10,
            0.06,
            0.04,
            0.03,
            0.03,
            0.05,
            0.12,
            0.35,
            0.75,
            1.0,
            1.0,
            0.92,
            0.70,
            0.72,
            0.95,
            0.97,
            0.90,
            0.70,
            0.50,
            0.45,
            0.40,
            0.33,
            0.24,
            0.16,
        ),
        (
            0.12,
            0.07,
            0.05,
            0.04,
            0.04,
            0.05,
            0.10,
            0.25,
            0.55,
            0.80,
            0.85,
            0.80,
            0.65,
            0.66,
            0.78,
            0.80,
            0.75,
            0.62,
            0.50,
            0.46,
            0.42,
            0.35,
            0.26,
            0.18,
        ),
    ),
    "selfservice": (
        (
            0.20,
            0.12,
            0.08,
            0.06,
            0.06,
            0.08,
            0.15,
            0.35,
            0.65,
            0.85,
            0.90,
            0.85,
            0.75,
            0.72,
            0.82,
            0.85,
            0.82,
            0.75,
            0.70,
            0.75,
            0.80,
            0.72,
            0.55,
            0.35,
        ),
        (
            0.25,
            0.15,
            0.10,
            0.07,
            0.06,
            0.08,
            0.12,
            0.28,
            0.55,
            0.75,
            0.82,
            0.80,
            0.75,
            0.72,
            0.78,
            0.80,
            0.78,
            0.74,
            0.72,
            0.78,
            0.82,
            0.75,
            0.58,
            0.38,
        ),
    ),
    "outbound": (
        (
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0.05,
            0.85,
            1.0,
            0.90,
            0.25,
            0.45,
            0.95,
            1.0,
            0.90,
            0.60,
            0.30,
            0.20,
            0.05,
            0,
            0,
            0,
        ),
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0.80, 1.0, 0.85, 0.20, 0.40, 0.90, 0.90, 0.70, 0.30, 0, 0, 0, 0, 0, 0),
    ),
    "video": (
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0.70, 1.0, 0.90, 0.40, 0.60, 0.90, 0.85, 0.70, 0.20, 0, 0, 0, 0, 0, 0),
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0.80, 1.0, 0.80, 0.40, 0.50, 0.80, 0.70, 0.50, 0, 0, 0, 0, 0, 0, 0),
    ),
}

# Public holidays and the weekend days worked in their place (调休), as the State
# Council announced them for 2020-2022 (only the sample's quarters are listed).
_FESTIVALS = {  # Spring Festival week
    2021: (date(2021, 2, 11), date(2021, 2, 17)),
    2022: (date(2022, 1, 31), date(2022, 2, 6)),
}
_GOLDEN_WEEKS = {  # National Day (in 2020 with Mid-Autumn): as quiet as the Spring Festival
    2020: (date(2020, 10, 1), date(2020, 10, 8)),
    2021: (date(2021, 10, 1), date(2021, 10, 7)),
}
_REST_DAYS = {  # New Year, Qingming, Labour Day, Dragon Boat, Mid-Autumn (outside the golden week)
    2020: (
        *(date(2020, 4, d) for d in (4, 5, 6)),
        *(date(2020, 5, d) for d in (1, 2, 3, 4, 5)),
        *(date(2020, 6, d) for d in (25, 26, 27)),
    ),
    2021: (
        date(2021, 1, 1),
        date(2021, 1, 2),
        date(2021, 1, 3),
        *(date(2021, 4, d) for d in (3, 4, 5)),
        *(date(2021, 5, d) for d in (1, 2, 3, 4, 5)),
        *(date(2021, 6, d) for d in (12, 13, 14)),
        *(date(2021, 9, d) for d in (19, 20, 21)),
    ),
    2022: (date(2022, 1, 1), date(2022, 1, 2), date(2022, 1, 3)),
}
_SWAPPED_WORKDAYS = {
    2020: (date(2020, 4, 26), date(2020, 5, 9), date(2020, 6, 28), date(2020, 9, 27), date(2020, 10, 10)),
    2021: (
        date(2021, 2, 7),
        date(2021, 2, 20),
        date(2021, 4, 25),
        date(2021, 5, 8),
        date(2021, 9, 18),
        date(2021, 9, 26),
        date(2021, 10, 9),
    ),
    2022: (date(2022, 1, 29), date(2022, 1, 30)),
}

WORK, REST, FESTIVAL = 0, 1, 2


def targets(quarter: str) -> dict[str, object]:
    """The target counts of one sample quarter at scale 1.

    The anchors 2022Q1 and 2021Q1: TARGETS' column. The other sample quarters:
    modelled from the anchors (`_modelled_targets`), deterministically.
    """
    if quarter in ANCHORS:
        col = ANCHORS.index(quarter)
        return {key: pair[col] for key, pair in TARGETS.items()}
    if quarter not in QUARTERS:
        raise ValueError(f"the sample covers {QUARTERS[0]}..{QUARTERS[-1]} only, not {quarter!r}")
    return _modelled_targets(Quarter.parse(quarter))


# ---------------------------------------------------------------------------
# THE MODELLED QUARTERS: 2020Q2-2020Q4 and 2021Q2-2021Q4.
#
# Every count is trend x season x a little noise, anchored on the two hand-chosen
# quarters, so that a chart over the eight quarters looks like a real series:
# - volumes: log-linear between the 2021Q1 and 2022Q1 values (a quarter grows by
#   the anchors' yearly ratio), times the quarter's seasonal factor relative to Q1
#   (Q1 carries the Spring Festival dip), times lognormal noise (sigma 1.5%);
# - rates (answer rate, service level, outsourced share, rating shares, ...):
#   linear on the logit (log-share) scale between the anchors' rates, plus a seasonal
#   offset (the summer and year-end peaks are harder to serve) and small noise;
# - before 2021Q1 the trend runs at 60% of its slope: growth was slower before the
#   anchor year (undamped, outbound's +87% a year and the complaint tickets' -48%
#   would be extrapolated in full into 2020).
# Items that are not volumes (outbound and SMS services, feedback statuses, awards,
# the training roster) come from small tables or are drawn per quarter.
# Noise comes from the quarter's own stream `_rng(Q, "targets")`.
# ---------------------------------------------------------------------------
_DAMP = 0.6
_SEASON = {  # volume relative to Q1 of the same trend year
    "hotline": (1.00, 1.05, 1.09, 1.06),  # Q4: year-end bills and card spending
    "online": (1.00, 1.06, 1.10, 1.05),
    "outbound": (1.00, 1.08, 1.06, 1.12),
    "selfservice": (1.00, 1.04, 1.08, 1.05),
    "video": (1.00, 1.10, 1.12, 1.08),
    "items": (1.00, 1.03, 1.00, 1.05),
    "training": (1.00, 1.04, 1.03, 1.04),  # hours per attendance
    "flat": (1.00, 1.00, 1.00, 1.00),
}
_RATE_SEASON = {  # logit offsets of a rate, per quarter of the year
    "service": (0.0, -0.05, -0.13, -0.07),  # ≤ 20 s: the summer peak is hardest
    "answer": (0.0, -0.04, -0.12, -0.05),
    "satisfaction": (0.0, -0.02, -0.05, 0.0),
    "flat": (0.0, 0.0, 0.0, 0.0),
}
# Distinct outbound services (the first n of OUTBOUND_SERVICES); the last three are new in 2022.
_OUTBOUND_SERVICE_COUNT = {"2020Q2": 13, "2020Q3": 14, "2020Q4": 15, "2021Q2": 16, "2021Q3": 16, "2021Q4": 16}
# Feedback items: (已优化, 列入计划, 待反馈), at most len(FEEDBACK) in all.
_FEEDBACK_STATUS = {
    "2020Q2": (5, 17, 2),
    "2020Q3": (7, 16, 1),
    "2020Q4": (6, 20, 3),
    "2021Q2": (8, 18, 1),
    "2021Q3": (5, 22, 2),
    "2021Q4": (7, 24, 1),
}


class _Model:
    """Trend x season x noise for one modelled quarter (see the block comment above)."""

    def __init__(self, quarter: Quarter):
        self.season = quarter.q - 1
        after = 4 * (quarter.year - 2021) + quarter.q - 1  # quarters after 2021Q1
        self.years = after / 4 * (1.0 if after >= 0 else _DAMP)  # trend years after 2021Q1
        self.rng = _rng(str(quarter), "targets")
        self.old, self.new = targets("2021Q1"), targets("2022Q1")

    def grow(self, a: float, b: float, season: str = "flat", noise: float = 0.015) -> float:
        """A volume: `a` in 2021Q1 and `b` in 2022Q1, at this quarter."""
        return a * (b / a) ** self.years * _SEASON[season][self.season] * self.rng.lognormal(0.0, noise)

    def volume(self, key: str, season: str) -> int:
        return round(self.grow(self.old[key], self.new[key], season))  # type: ignore[arg-type]

    def rate(self, a: float, b: float, season: str = "flat", noise: float = 0.04) -> float:
        """A rate: `a` in 2021Q1 and `b` in 2022Q1, at this quarter (logit scale)."""
        x = _logit(a) + (_logit(b) - _logit(a)) * self.years
        x += _RATE_SEASON[season][self.season] + self.rng.normal(0.0, noise)
        return 1.0 / (1.0 + np.exp(-x))

    def ratio(self, num: str, den: str, season: str = "flat", noise: float = 0.04) -> float:
        """The rate num/den of the anchors' targets, at this quarter."""
        o, n = self.old, self.new
        return self.rate(o[num] / o[den], n[num] / n[den], season, noise)  # type: ignore[operator]

    def split(self, total: int, a: Sequence[int], b: Sequence[int], first: float = 0.0) -> tuple[int, ...]:
        """`total` split like the anchors' counts `a`, `b` (log-shares, +0.5 for empty cells);
        `first` shifts the first share's log (e.g. 非常满意 in a busy quarter)."""
        la = np.log(np.asarray(a, dtype=float) + 0.5)
        lb = np.log(np.asarray(b, dtype=float) + 0.5)
        la, lb = la - la.mean(), lb - lb.mean()
        logs = la + (lb - la) * self.years + self.rng.normal(0.0, 0.03, la.size)
        logs[0] += first
        return tuple(int(v) for v in _largest_remainder(total, np.exp(logs)))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _modelled_targets(quarter: Quarter) -> dict[str, object]:
    """The targets of a modelled sample quarter (not an anchor), at scale 1."""
    m, name = _Model(quarter), str(quarter)
    out: dict[str, object] = {}
    for prefix, season in (("general", "hotline"), ("credit", "hotline"), ("online", "online")):
        requests = m.volume(f"{prefix}.requests", season)
        answered = round(requests * m.ratio(f"{prefix}.answered", f"{prefix}.requests", "answer"))
        within = round(requests * m.ratio(f"{prefix}.within_t", f"{prefix}.requests", "service"))
        outsourced = round(answered * m.ratio(f"{prefix}.outsourced", f"{prefix}.answered"))
        out |= {
            f"{prefix}.requests": requests,
            f"{prefix}.answered": answered,
            f"{prefix}.within_t": min(within, answered),
            f"{prefix}.outsourced": outsourced,
        }
    for channel, season in (("语音", "hotline"), ("在线", "online"), ("视频", "video")):
        a, b = m.old[f"survey.{channel}"], m.new[f"survey.{channel}"]
        total = round(m.grow(sum(a), sum(b), season))  # type: ignore[arg-type]
        offset = _RATE_SEASON["satisfaction"][m.season]
        out[f"survey.{channel}"] = m.split(total, a, b, first=offset)  # type: ignore[arg-type]
    out["outbound.calls"] = m.volume("outbound.calls", "outbound")
    out["outbound.services"] = _OUTBOUND_SERVICE_COUNT[name]
    robot = m.volume("robot.sessions", "selfservice")
    out["robot.sessions"] = robot
    out["robot.resolved"] = round(robot * m.ratio("robot.resolved", "robot.sessions"))
    standard = (m.old["robot.standard_per_mille"], m.new["robot.standard_per_mille"])
    out["robot.standard_per_mille"] = round(1000 * m.rate(standard[0] / 1000, standard[1] / 1000))  # type: ignore[operator]
    voice = m.volume("voice.sessions", "selfservice")
    recognized = round(voice * m.ratio("voice.recognized", "voice.sessions", noise=0.08))
    out |= {"voice.sessions": voice, "voice.recognized": recognized}
    out["voice.resolved"] = min(round(voice * m.ratio("voice.resolved", "voice.sessions")), recognized)
    video = m.volume("video.sessions", "video")
    typed_share = [sum(t["video.business"]) / t["video.sessions"] for t in (m.old, m.new)]  # type: ignore[arg-type, operator]
    typed = round(video * m.rate(*typed_share))
    out["video.sessions"] = video
    out["video.business"] = m.split(typed, m.old["video.business"], m.new["video.business"])  # type: ignore[arg-type]
    out["sms.recipients"] = m.volume("sms.recipients", "items")
    out["feedback.status"] = _FEEDBACK_STATUS[name]
    tickets = m.volume("tickets.total", "hotline")
    received = round(tickets * m.ratio("tickets.complaints_received", "tickets.total"))
    out |= {"tickets.total": tickets, "tickets.complaints_received": received}
    for key in ("tickets.complaint_branch", "tickets.complaint_hq"):
        out[key] = round(received * m.ratio(key, "tickets.complaints_received", noise=0.08))
    reviews = m.volume("kb.reviews", "items")
    new, improved = m.volume("kb.new", "items"), m.volume("kb.improved", "items")
    o, n = m.old, m.new
    points_per_change = m.grow(
        o["kb.knowledge_points"] / (o["kb.new"] + o["kb.improved"]),  # type: ignore[operator]
        n["kb.knowledge_points"] / (n["kb.new"] + n["kb.improved"]),  # type: ignore[operator]
        noise=0.02,
    )
    out |= {
        "kb.reviews": reviews,
        "kb.sections_reviewed": min(m.volume("kb.sections_reviewed", "flat"), reviews, len(KB_SECTIONS)),
        "kb.new": new,
        "kb.improved": improved,
        "kb.knowledge_points": round((new + improved) * points_per_change),
    }
    attendances = m.volume("training.attendances", "items")
    out |= {
        "training.sessions": m.volume("training.sessions", "items"),
        "training.attendances": attendances,
        "training.staff": m.volume("training.staff", "flat"),
        # hours (in hundredths) per attendance: the anchors' 0.46 h in Q1, a little more
        # in the rest of the year (the generated durations fit them at once)
        "training.hours_centi": round(
            attendances
            * m.grow(
                o["training.hours_centi"] / o["training.attendances"],  # type: ignore[operator]
                n["training.hours_centi"] / n["training.attendances"],  # type: ignore[operator]
                "training",
                noise=0.01,
            )
        ),
    }
    return out


# ---------------------------------------------------------------------------
# calendar and arrival curves
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """Days of a quarter: their kind (WORK/REST/FESTIVAL) and midnight in epoch seconds."""

    days: tuple[date, ...]
    kinds: np.ndarray
    midnight: np.ndarray

    @classmethod
    def of(cls, quarter: Quarter) -> Calendar:
        first = quarter.first_day
        days = tuple(first + timedelta(d) for d in range((quarter.end.date() - first).days))
        weeks = [w for w in (_FESTIVALS.get(quarter.year), _GOLDEN_WEEKS.get(quarter.year)) if w]
        kinds = []
        for day in days:
            if any(lo <= day <= hi for lo, hi in weeks):
                kinds.append(FESTIVAL)
            elif day in _REST_DAYS.get(quarter.year, ()):
                kinds.append(REST)
            elif day.weekday() >= 5 and day not in _SWAPPED_WORKDAYS.get(quarter.year, ()):
                kinds.append(REST)
            else:
                kinds.append(WORK)
        midnight = (np.datetime64(first, "s") + np.arange(len(days)) * 86400).astype(np.int64)
        return cls(days, np.array(kinds, dtype=np.int8), midnight)

    def day_weights(self, profile: str) -> np.ndarray:
        """Relative volume per day: kind weight, a bump after the festival, a little trend."""
        base = np.array(_DAY_WEIGHTS[profile])[self.kinds]
        # Mondays carry the weekend's backlog, Fridays are a little quieter
        weekday = np.array([(1.10, 1.02, 1.0, 1.0, 0.95, 1.0, 1.0)[d.weekday()] for d in self.days])
        weights = base * np.where(self.kinds == WORK, weekday, 1.0)
        weights *= np.linspace(0.97, 1.05, len(self.days))
        fest = np.flatnonzero(self.kinds == FESTIVAL)
        if fest.size:  # the first workdays after the holiday catch up
            after = np.arange(fest[-1] + 1, min(fest[-1] + 6, len(self.days)))
            weights[after] *= np.where(self.kinds[after] == WORK, 1.18, 1.0)
        return weights


def _rng(quarter: str, name: str) -> np.random.Generator:
    """The one random stream of a (quarter, file): fixed seed, independent of anything else."""
    return np.random.default_rng([BASE_SEED, zlib.crc32(f"{quarter}/{name}".encode())])


def _day_counts(rng: np.random.Generator, cal: Calendar, profile: str, total: int) -> np.ndarray:
    """Split `total` rows over the days: day weights with ±5% day-to-day noise."""
    weights = cal.day_weights(profile) * rng.gamma(400.0, 1 / 400.0, len(cal.days))
    return rng.multinomial(total, weights / weights.sum())


def _chunks(counts: np.ndarray) -> Iterator[np.ndarray]:
    """Consecutive day indices in groups of at most CHUNK_ROWS rows (at least one day)."""
    start, acc = 0, 0
    for day, n in enumerate(counts):
        if acc and acc + n > CHUNK_ROWS:
            yield np.arange(start, day)
            start, acc = day, 0
        acc += int(n)
    yield np.arange(start, len(counts))


def _times(
    rng: np.random.Generator, cal: Calendar, profile: str, days: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted arrival times (epoch seconds) of the rows of `days`, and each row's load.

    Hours follow the profile's curve for the day's kind; the load (hour weight x
    day weight, 0..1) is used to push waits and abandonment into busy hours.
    """
    day_of_row = np.repeat(days, counts[days])
    kind_curve = np.where(cal.kinds[day_of_row] == WORK, 0, 1)
    u = rng.random(day_of_row.size)
    hours = np.empty(day_of_row.size, dtype=np.int64)
    load = np.empty(day_of_row.size)
    day_w = cal.day_weights(profile)
    for curve_no, curve in enumerate(_HOURS[profile]):
        weights = np.asarray(curve, dtype=float)
        cdf = np.cumsum(weights) / weights.sum()
        mask = kind_curve == curve_no
        hours[mask] = np.minimum(np.searchsorted(cdf, u[mask], side="right"), 23)
        load[mask] = weights[hours[mask]] / weights.max()
    load *= day_w[day_of_row] / day_w.max()
    ts = cal.midnight[day_of_row] + hours * 3600 + rng.integers(0, 3600, day_of_row.size)
    order = np.argsort(ts, kind="stable")
    return ts[order], load[order]


def _draw(rng: np.random.Generator, remaining: np.ndarray, n: int) -> np.ndarray:
    """Take `n` rows' cells out of `remaining` (updated in place): exact over all chunks."""
    if n >= remaining.sum():
        counts = remaining.copy()
    else:
        counts = rng.multivariate_hypergeometric(remaining, n, method="marginals")
    remaining -= counts
    return np.repeat(np.arange(remaining.size), counts)


def _assign(rng: np.random.Generator, cells: np.ndarray, rank: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Cells -> rows: cells of low `rank` (abandoned, slow) go preferentially to loaded rows."""
    shuffled = rng.permutation(cells)
    by_rank = shuffled[np.argsort(rank.astype(np.int8)[shuffled], kind="stable")]  # int8: radix sort
    row_order = _argsort_stable(rng.exponential(size=cells.size) / (0.25 + load))
    out = np.empty_like(cells)
    out[row_order] = by_rank
    return out


def _argsort_stable(values: np.ndarray) -> np.ndarray:
    """np.argsort(values, kind="stable"), faster for floats without ties (then any sort agrees)."""
    order = np.argsort(values)
    ordered = values[order]
    if (ordered[1:] == ordered[:-1]).any():
        return np.argsort(values, kind="stable")
    return order


def _largest_remainder(total: int, weights: Sequence[float]) -> np.ndarray:
    """Integers summing to `total`, proportional to `weights` (largest-remainder rounding)."""
    w = np.asarray(weights, dtype=float)
    exact = total * w / w.sum()
    out = np.floor(exact).astype(np.int64)
    short = total - out.sum()
    out[np.argsort(-(exact - out), kind="stable")[:short]] += 1
    return out


# ---------------------------------------------------------------------------
# text columns
# ---------------------------------------------------------------------------


def _ascii(rows: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Fixed-width ASCII records (one per value) -> a string column, null where `missing`."""
    n, width = rows.size, rows.dtype.itemsize
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(rows), _validity(missing))


def _validity(missing: np.ndarray | None) -> pa.Buffer | None:
    return None if missing is None else pa.py_buffer(np.packbits(~missing, bitorder="little"))


def _packed(*fields: str) -> np.dtype:
    """A packed record of the given numpy formats (`u8`, `V5`, …): the bytes of one text value."""
    sizes = [np.dtype(f).itemsize for f in fields]
    return np.dtype(
        {
            "names": [f"f{i}" for i in range(len(fields))],
            "formats": list(fields),
            "offsets": [sum(sizes[:i]) for i in range(len(fields))],
            "itemsize": sum(sizes),
        }
    )


def _table(texts: Sequence[str], *fields: str) -> tuple[np.ndarray, ...]:
    """Equal-width ASCII texts cut into unsigned-integer columns (`u8`, `u2`, …), one
    contiguous array per column: gathering integers is much faster than gathering bytes."""
    records = np.frombuffer("".join(texts).encode(), _packed(*fields))
    return tuple(np.ascontiguousarray(records[name]) for name in records.dtype.names)


_FOUR_DIGITS = _table([f"{i:04d}" for i in range(10_000)], "u4")[0]


def _ids(prefix: str, quarter: Quarter, start: int, n: int) -> pa.Array:
    """`C22Q1000000001`-style ids: prefix, yy, Qn, a 9-digit running number from start+1."""
    head = f"{prefix}{quarter.year % 100:02d}Q{quarter.q}".encode()
    numbers = np.arange(start + 1, start + n + 1, dtype=np.int64)
    rows = np.empty(n, _packed(f"V{len(head)}", "u1", "u4", "u4"))
    rows["f0"] = np.void(head)
    rows["f1"] = 48 + numbers // 100_000_000 % 10
    rows["f2"] = _FOUR_DIGITS[numbers // 10_000 % 10_000]
    rows["f3"] = _FOUR_DIGITS[numbers % 10_000]
    return _ascii(rows)


# " HH:MM:SS" for every second of a day (as the space and 8 bytes), and the fraction
# suffix of every millisecond value (".5" for 500, "" for 0): lookup tables for _stamp.
_CLOCK = _table([f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)], "u1", "u8")[1]
_FRACTION = [f".{f:03d}".rstrip("0") if f else "" for f in range(1000)]
_STAMP = _packed("u8", "u2", "u1", "u8")  # YYYY-MM- | DD | space | HH:MM:SS


def _stamp(ms: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Epoch milliseconds -> `YYYY-MM-DD HH:MM:SS`, with `.5`-style fractions only where nonzero.

    Built as bytes from lookup tables (the quarter's ~90 dates, the 86400 clock
    times) rather than strftime, which is many times slower on millions of rows.
    Null where `missing`.
    """
    ms = np.asarray(ms, dtype=np.int64)
    seconds = ms // 1000
    day = seconds // 86400
    first = int(day.min()) if day.size else 0
    last = int(day.max()) if day.size else first
    epoch = date(1970, 1, 1)
    ymd, dd = _table([(epoch + timedelta(days=d)).isoformat() for d in range(first, last + 1)], "u8", "u2")
    rows = np.empty(ms.size, _STAMP)
    rows["f0"] = ymd[day - first]
    rows["f1"] = dd[day - first]
    rows["f2"] = ord(" ")
    rows["f3"] = _CLOCK[seconds - day * 86400]
    frac = ms - seconds * 1000
    if not frac.any():
        return _ascii(rows, missing)
    # variable length: insert each fractional row's suffix (".5") after its 19 bytes
    fractional = np.flatnonzero(frac)
    table = np.zeros((1000, 4), np.uint8)
    lengths = np.zeros(1000, np.int64)
    for f in np.unique(frac[fractional]):
        text = _FRACTION[f].encode()
        table[f, : len(text)], lengths[f] = np.frombuffer(text, np.uint8), len(text)
    size = lengths[frac[fractional]]
    suffixes = table[frac[fractional]][np.arange(4) < size[:, None]]
    data = np.insert(rows.view(np.uint8), np.repeat(19 * (fractional + 1), size), suffixes)
    offsets = np.arange(ms.size + 1, dtype=np.int64) * 19
    offsets[1:] += np.cumsum(lengths[frac])
    return pa.StringArray.from_buffers(
        ms.size, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data), _validity(missing)
    )


def _take(values: Sequence[str], codes: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Category codes -> a string column (null where `missing`)."""
    return pa.array(list(values), pa.string()).take(pa.array(codes.astype(np.int32), mask=missing))


def _dates(days: Sequence[date]) -> pa.Array:
    return pa.array([d.isoformat() for d in days], pa.string())


# ---------------------------------------------------------------------------
# file generators: each yields pyarrow tables (chunks) with the schema's columns
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    quarter: Quarter
    targets: dict[str, object]
    scale: int
    cal: Calendar

    @property
    def last_second(self) -> int:
        """The quarter's last whole second, epoch seconds."""
        return int(self.cal.midnight[-1]) + 86399

    def n(self, key: str) -> int:
        """A scaled target count."""
        return int(self.targets[key]) * self.scale  # type: ignore[call-overload]

    def ns(self, key: str) -> np.ndarray:
        """A scaled tuple of target counts."""
        return np.asarray(self.targets[key], dtype=np.int64) * self.scale


# Answer outcomes, in rank order for `_assign` (worst first).
_ABANDONED, _SLOW_OWN, _SLOW_OUT, _FAST_OWN, _FAST_OUT = range(5)
_OUTCOME_RANK = np.array([0, 1, 1, 2, 2])


def _outcomes(requests: int, answered: int, within: int, outsourced: int) -> list[int]:
    """Counts per outcome cell; outsourcing is spread evenly over fast and slow answers."""
    fast_out = round(outsourced * within / answered)
    slow_out = outsourced - fast_out
    return [requests - answered, answered - within - slow_out, slow_out, within - fast_out, fast_out]


def _answer_columns(
    rng: np.random.Generator, ts: np.ndarray, outcome: np.ndarray, handle_median: float
) -> dict[str, pa.Array]:
    """requested_at/answered_at/ended_at/agent_type for rows of known outcome.

    Waits are whole seconds, a few (8%) half seconds: answers within T = 20 s
    wait 0-20 s (1% exactly 20 s); slower ones wait 20.5 s (5%) or 21 s up to
    30 minutes, with a long tail.
    Handle times are lognormal around `handle_median` seconds.
    """
    n = ts.size
    fast = outcome >= _FAST_OWN
    slow = (outcome == _SLOW_OWN) | (outcome == _SLOW_OUT)
    half_secs = np.zeros(n, dtype=np.int64)
    nf = int(fast.sum())
    fast_seconds = np.rint(20 * rng.beta(1.1, 2.6, nf)).astype(np.int64)
    fast_wait = 2 * fast_seconds + ((rng.random(nf) < 0.08) & (fast_seconds < 20))
    fast_wait[rng.random(nf) < 0.01] = 40
    half_secs[fast] = fast_wait
    ns = int(slow.sum())
    slow_seconds = np.minimum(21 + np.rint(rng.lognormal(3.0, 1.0, ns)), 1800).astype(np.int64)
    slow_wait = 2 * slow_seconds + (rng.random(ns) < 0.08)
    slow_wait[rng.random(ns) < 0.05] = 41
    half_secs[slow] = slow_wait
    answered_ms = ts * 1000 + half_secs * 500
    handle_s = np.maximum(np.rint(rng.lognormal(np.log(handle_median), 0.65, n)), 15)
    ended_ms = answered_ms + handle_s.astype(np.int64) * 1000
    abandoned = outcome == _ABANDONED
    agent = np.where((outcome == _SLOW_OUT) | (outcome == _FAST_OUT), 1, 0)
    return {
        "requested_at": _stamp(ts * 1000),
        "answered_at": _stamp(answered_ms, abandoned),
        "ended_at": _stamp(ended_ms, abandoned),
        "agent_type": _take(AGENT_TYPES, agent, abandoned),
    }


def _gen_inbound(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    cells = []
    for prefix in ("general", "credit"):
        cells += _outcomes(
            *(job.n(f"{prefix}.{k}") for k in ("requests", "answered", "within_t", "outsourced"))
        )
    remaining = np.array(cells, dtype=np.int64)  # line-major: 综合 0-4, 信用卡 5-9
    counts = _day_counts(rng, job.cal, "hotline", int(remaining.sum()))
    done = 0
    for days in _chunks(counts):
        ts, load = _times(rng, job.cal, "hotline", days, counts)
        drawn = _draw(rng, remaining, ts.size)
        cell = _assign(rng, drawn, np.tile(_OUTCOME_RANK, 2), load)
        line, outcome = np.divmod(cell, 5)
        cols = _answer_columns(rng, ts, outcome, 200.0)
        yield pa.table(
            {
                "call_id": _ids("C", job.quarter, done, ts.size),
                "line": _take(LINES, line),
                **cols,
            }
        )
        done += ts.size


def _gen_online(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    remaining = np.array(
        _outcomes(*(job.n(f"online.{k}") for k in ("requests", "answered", "within_t", "outsourced"))),
        dtype=np.int64,
    )
    counts = _day_counts(rng, job.cal, "hotline", int(remaining.sum()))
    done = 0
    for days in _chunks(counts):
        ts, load = _times(rng, job.cal, "hotline", days, counts)
        outcome = _assign(rng, _draw(rng, remaining, ts.size), _OUTCOME_RANK, load)
        yield pa.table(
            {"chat_id": _ids("W", job.quarter, done, ts.size), **_answer_columns(rng, ts, outcome, 420.0)}
        )
        done += ts.size


def _gen_outbound(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    services = OUTBOUND_SERVICES[: int(job.targets["outbound.services"])]  # type: ignore[call-overload]
    per_service = _largest_remainder(job.n("outbound.calls"), [s[1] for s in services])
    connected = np.rint(per_service * np.array([s[2] for s in services])).astype(np.int64)
    remaining = np.column_stack([per_service - connected, connected]).ravel()
    counts = _day_counts(rng, job.cal, "outbound", int(remaining.sum()))
    done = 0
    for days in _chunks(counts):
        ts, _load = _times(rng, job.cal, "outbound", days, counts)
        cell = rng.permutation(_draw(rng, remaining, ts.size))
        service, picked_up = np.divmod(cell, 2)
        yield pa.table(
            {
                "call_id": _ids("O", job.quarter, done, ts.size),
                "dialed_at": _stamp(ts * 1000),
                "service": _take([s[0] for s in services], service),
                "connected": pa.array(picked_up.astype(np.int8)),
            }
        )
        done += ts.size


# smart cells: robot resolved / robot transferred / voice resolved (recognized) /
# voice transferred recognized / voice transferred unrecognized
_SMART_CHANNEL = np.array([0, 0, 1, 1, 1])
_SMART_TRANSFERRED = np.array([0, 1, 0, 1, 1], dtype=np.int8)
_SMART_RECOGNIZED = np.array([0, 0, 1, 1, 0], dtype=np.int8)


def _gen_smart(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    robot, robot_res = job.n("robot.sessions"), job.n("robot.resolved")
    voice, voice_rec, voice_res = (job.n(f"voice.{k}") for k in ("sessions", "recognized", "resolved"))
    remaining = np.array(
        [robot_res, robot - robot_res, voice_res, voice_rec - voice_res, voice - voice_rec], dtype=np.int64
    )
    per_mille = int(job.targets["robot.standard_per_mille"])  # type: ignore[call-overload]
    counts = _day_counts(rng, job.cal, "selfservice", int(remaining.sum()))
    done, questions_so_far, standard_so_far = 0, 0, 0
    for days in _chunks(counts):
        ts, _load = _times(rng, job.cal, "selfservice", days, counts)
        cell = rng.permutation(_draw(rng, remaining, ts.size))
        is_robot = _SMART_CHANNEL[cell] == 0
        questions = np.where(
            is_robot, np.minimum(rng.geometric(0.42, ts.size), 12), 1 + (rng.random(ts.size) < 0.18)
        )
        standard = np.where(is_robot, 0, questions * _SMART_RECOGNIZED[cell] * (1 - _SMART_TRANSFERRED[cell]))
        # Robot standard answers: error diffusion over chunks keeps the running
        # total at round(rate x questions so far), so the quarter's rate is exact.
        robot_q = questions[is_robot]
        questions_so_far += int(robot_q.sum())
        target_so_far = (per_mille * questions_so_far + 500) // 1000
        misses = int(robot_q.sum()) - (target_so_far - standard_so_far)
        standard_so_far = target_so_far
        slot_owner = np.repeat(np.arange(robot_q.size), robot_q)
        missed = rng.choice(slot_owner.size, size=misses, replace=False)
        standard[is_robot] = robot_q - np.bincount(slot_owner[missed], minlength=robot_q.size)
        yield pa.table(
            {
                "session_id": _ids("A", job.quarter, done, ts.size),
                "channel": _take(SMART_CHANNELS, _SMART_CHANNEL[cell]),
                "started_at": _stamp(ts * 1000),
                "questions": pa.array(questions.astype(np.int64)),
                "standard_answers": pa.array(standard.astype(np.int64)),
                "recognized": pa.array(_SMART_RECOGNIZED[cell], mask=is_robot),
                "transferred": pa.array(_SMART_TRANSFERRED[cell]),
            }
        )
        done += ts.size


def _gen_video(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    typed = job.ns("video.business")
    remaining = np.append(typed, job.n("video.sessions") - typed.sum())
    counts = _day_counts(rng, job.cal, "video", int(remaining.sum()))
    done = 0
    for days in _chunks(counts):
        ts, _load = _times(rng, job.cal, "video", days, counts)
        cell = rng.permutation(_draw(rng, remaining, ts.size))
        yield pa.table(
            {
                "session_id": _ids("V", job.quarter, done, ts.size),
                "started_at": _stamp(ts * 1000),
                "business_type": _take(VIDEO_TYPES, cell, cell == len(VIDEO_TYPES)),
            }
        )
        done += ts.size


def _gen_surveys(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    remaining = np.concatenate([job.ns(f"survey.{c}") for c in SURVEY_CHANNELS])
    counts = _day_counts(rng, job.cal, "hotline", int(remaining.sum()))
    done = 0
    for days in _chunks(counts):
        ts, _load = _times(rng, job.cal, "hotline", days, counts)
        cell = rng.permutation(_draw(rng, remaining, ts.size))
        channel, rating = np.divmod(cell, len(RATINGS))
        # a survey is answered a little after the contact it rates (still in Q)
        responded = np.sort(np.minimum(ts + rng.integers(60, 900, ts.size), job.last_second))
        yield pa.table(
            {
                "survey_id": _ids("M", job.quarter, done, ts.size),
                "channel": _take(SURVEY_CHANNELS, channel),
                "responded_at": _stamp(responded * 1000),
                "rating": _take(RATINGS, rating),
            }
        )
        done += ts.size


def _work_days(cal: Calendar) -> np.ndarray:
    return np.flatnonzero(cal.kinds == WORK)


def _gen_sms(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    services = SMS_SERVICES[str(job.quarter)]
    per_service = _largest_remainder(job.n("sms.recipients"), [s[1] for s in services])
    work = _work_days(job.cal)
    rows: list[tuple[int, str, int]] = []
    for (name, _share, batches), total in zip(services, per_service, strict=True):
        days = np.sort(rng.choice(work, size=batches, replace=False))
        sizes = rng.multinomial(total, rng.dirichlet(np.full(batches, 4.0)))
        rows += [(int(d), name, int(s)) for d, s in zip(days, sizes, strict=True)]
    rows.sort(key=lambda r: (r[0], r[1]))
    yield pa.table(
        {
            "batch_id": _ids("B", job.quarter, 0, len(rows)),
            "sent_on": _dates([job.cal.days[r[0]] for r in rows]),
            "service": pa.array([r[1] for r in rows], pa.string()),
            "recipients": pa.array([r[2] for r in rows], pa.int64()),
        }
    )


def _gen_feedback(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    statuses = job.targets["feedback.status"]
    n = sum(statuses)  # type: ignore[arg-type]
    picked = np.sort(rng.choice(len(FEEDBACK), size=n, replace=False))
    status = rng.permutation(np.repeat(np.arange(3), statuses))
    days = np.sort(rng.choice(_work_days(job.cal), size=n, replace=True))
    yield pa.table(
        {
            "feedback_id": _ids("F", job.quarter, 0, n),
            "reported_on": _dates([job.cal.days[d] for d in days]),
            "department": pa.array([FEEDBACK[i][0] for i in picked], pa.string()),
            "summary": pa.array([FEEDBACK[i][1] for i in picked], pa.string()),
            "status": _take(("已优化", "列入计划", "待反馈"), status),
        }
    )


# Ticket mix for requests other than 投诉: (type, share, routing shares 分支行/总行部室/客服中心).
_TICKET_MIX = (
    ("咨询", 0.561, (0.22, 0.08, 0.70)),
    ("疑难", 0.239, (0.55, 0.25, 0.20)),
    ("建议", 0.098, (0.25, 0.45, 0.30)),
    ("表扬", 0.046, (0.30, 0.00, 0.70)),
    ("其他", 0.056, (0.30, 0.10, 0.60)),
)


def _ticket_cells(job: Job) -> np.ndarray:
    """Counts per (request_type, ticket_type, routed_to), flattened over 6 x 6 x 3."""
    k_type, k_route = {t: i for i, t in enumerate(TICKET_TYPES)}, len(ROUTES)
    counts = np.zeros((len(TICKET_TYPES), len(TICKET_TYPES), k_route), dtype=np.int64)
    complaint = k_type["投诉"]
    branch, hq = job.n("tickets.complaint_branch"), job.n("tickets.complaint_hq")
    counts[complaint, complaint, :2] = branch, hq
    # complaints soothed by the agent are issued as 建议 or 疑难 tickets
    converted = job.n("tickets.complaints_received") - branch - hq
    advice = round(converted * 0.44)
    counts[complaint, k_type["建议"]] = _largest_remainder(advice, (0.40, 0.22, 0.38))
    counts[complaint, k_type["疑难"]] = _largest_remainder(converted - advice, (0.56, 0.26, 0.18))
    others = job.n("tickets.total") - job.n("tickets.complaints_received")
    per_type = _largest_remainder(others, [m[1] for m in _TICKET_MIX])
    for (name, _share, routing), total in zip(_TICKET_MIX, per_type, strict=True):
        counts[k_type[name], k_type[name]] = _largest_remainder(int(total), routing)
    return counts.ravel()


def _gen_tickets(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    remaining = _ticket_cells(job)
    counts = _day_counts(rng, job.cal, "hotline", int(remaining.sum()))
    done = 0
    for days in _chunks(counts):
        ts, _load = _times(rng, job.cal, "hotline", days, counts)
        cell = rng.permutation(_draw(rng, remaining, ts.size))
        request, rest = np.divmod(cell, len(TICKET_TYPES) * len(ROUTES))
        ticket, route = np.divmod(rest, len(ROUTES))
        # the ticket is written up after the call it comes from (still in Q)
        created = np.sort(np.minimum(ts + rng.integers(120, 1200, ts.size), job.last_second))
        yield pa.table(
            {
                "ticket_id": _ids("T", job.quarter, done, ts.size),
                "created_at": _stamp(created * 1000),
                "request_type": _take(TICKET_TYPES, request),
                "ticket_type": _take(TICKET_TYPES, ticket),
                "routed_to": _take(ROUTES, route),
            }
        )
        done += ts.size


def _gen_kb(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    t = job.targets
    reviews, n_sections = int(t["kb.reviews"]), int(t["kb.sections_reviewed"])  # type: ignore[call-overload]
    new, improved = int(t["kb.new"]), int(t["kb.improved"])  # type: ignore[call-overload]
    reviewed = rng.choice(len(KB_SECTIONS), size=n_sections, replace=False)
    # every reviewed section appears at least once, the rest of the reviews at random
    review_sections = np.concatenate([reviewed, rng.choice(reviewed, reviews - n_sections)])
    changed = new + improved
    points = 1 + rng.multinomial(
        int(t["kb.knowledge_points"]) - changed,  # type: ignore[call-overload]
        rng.dirichlet(np.full(changed, 1.5)),
    )
    section = np.concatenate([review_sections, rng.choice(len(KB_SECTIONS), changed)])
    action = np.repeat([0, 1, 2], [reviews, new, improved])
    kp = np.concatenate([rng.integers(5, 60, reviews), points])
    day = rng.choice(_work_days(job.cal), size=action.size)
    order = np.lexsort((rng.random(action.size), day))
    yield pa.table(
        {
            "change_id": _ids("K", job.quarter, 0, action.size),
            "changed_on": _dates([job.cal.days[d] for d in day[order]]),
            "section": _take(KB_SECTIONS, section[order]),
            "action": _take(KB_ACTIONS, action[order]),
            "knowledge_points": pa.array(kp[order].astype(np.int64)),
        }
    )


def _gen_training(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    t = {k: int(v) for k, v in job.targets.items() if k.startswith("training.")}  # type: ignore[call-overload]
    sessions, rows, staff = t["training.sessions"], t["training.attendances"], t["training.staff"]
    first_staff = _FIRST_STAFF[str(job.quarter)]  # some turnover between quarters
    # Drawn until the durations fit the target hours: the anchors fit at the first
    # draw; a modelled quarter may take a few.
    for _attempt in range(100):
        # sizes: most sessions are team briefings of 5-25, a few are large lectures
        spread = rng.lognormal(0, 0.8, sessions)
        sizes = 1 + rng.multinomial(rows - sessions, spread / spread.sum())
        sizes = np.minimum(sizes, staff)
        sizes[np.argmax(sizes)] += rows - sizes.sum()
        durations = rng.choice(
            np.array([25, 50, 75, 100, 150, 200]), size=sessions, p=[0.40, 0.35, 0.12, 0.08, 0.03, 0.02]
        )
        session_of_row = np.repeat(np.arange(sessions), sizes)
        who = np.concatenate([rng.choice(staff, size=s, replace=False) for s in sizes])
        missing = np.setdiff1d(np.arange(staff), who)
        if missing.size:  # everyone on the roster attended something: swap into big sessions
            dup = np.flatnonzero(np.bincount(who, minlength=staff)[who] > 1)
            who[rng.choice(dup, missing.size, replace=False)] = missing
        hours = durations[session_of_row].astype(np.int64)
        # A quarter of the attendees joined late or left early; their shortfall is
        # what makes the quarter's total exactly the target (hours in hundredths).
        excess = int(hours.sum()) - t["training.hours_centi"]
        fits = False
        for _who_was_partial in range(20 if excess >= 0 else 0):
            partial = np.flatnonzero(rng.random(rows) < 0.25)
            cut = _largest_remainder(excess, hours[partial] * rng.uniform(0.2, 1.0, partial.size))
            fits = not (cut > hours[partial] - 5).any()
            if fits:
                break
        if fits:
            break
    else:
        raise AssertionError(f"{job.quarter}: training durations do not fit the target hours")
    hours[partial] -= cut
    topic = rng.integers(0, len(TRAINING_TOPICS), sessions)
    day = np.sort(rng.choice(_work_days(job.cal), size=sessions))
    text_hours = [f"{h // 100}.{h % 100:02d}".rstrip("0").rstrip(".") for h in hours]
    yield pa.table(
        {
            "session_id": _ids("X", job.quarter, 0, sessions).take(pa.array(session_of_row)),
            "held_on": _dates([job.cal.days[d] for d in day[session_of_row]]),
            "topic": _take(TRAINING_TOPICS, topic[session_of_row]),
            "staff_id": pa.array([f"S{first_staff + w:04d}" for w in who], pa.string()),
            "hours": pa.array(text_hours, pa.string()),
        }
    )


def _awards(quarter: str, rng: np.random.Generator) -> tuple[tuple[int, str, str, str], ...]:
    """AWARDS of an anchor quarter; for a modelled one, a winner per category and month
    (a month's winner keeps the title the next month one time in three)."""
    if quarter in AWARDS:
        return AWARDS[quarter]
    rows: list[tuple[int, str, str, str]] = []
    candidates = {**_TEAMS, **{c: tuple((name, "") for name in names) for c, names in _STARS.items()}}
    for category, pool in candidates.items():
        pick = int(rng.integers(len(pool)))
        for month in (1, 2, 3):
            if month > 1 and rng.random() >= 1 / 3:
                pick = (pick + 1 + int(rng.integers(len(pool) - 1))) % len(pool)
            rows.append((month, category, *pool[pick]))
    return tuple(rows)


def _gen_awards(job: Job, rng: np.random.Generator) -> Iterator[pa.Table]:
    rows = _awards(str(job.quarter), rng)
    months = job.quarter.months
    yield pa.table(
        {
            "month": pa.array([f"{job.quarter.year}-{months[r[0] - 1]:02d}" for r in rows]),
            "category": pa.array([r[1] for r in rows]),
            "winner": pa.array([r[2] for r in rows]),
            "leader": pa.array([r[3] or None for r in rows], pa.string()),
        }
    )


GENERATORS: dict[str, Callable[[Job, np.random.Generator], Iterator[pa.Table]]] = {
    "inbound_calls": _gen_inbound,
    "online_chats": _gen_online,
    "outbound_calls": _gen_outbound,
    "smart_sessions": _gen_smart,
    "video_sessions": _gen_video,
    "surveys": _gen_surveys,
    "sms_batches": _gen_sms,
    "feedback": _gen_feedback,
    "tickets": _gen_tickets,
    "kb_changes": _gen_kb,
    "training": _gen_training,
    "awards": _gen_awards,
}
assert set(GENERATORS) == set(FILES), "one generator per extract of schema.FILES"


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------


def write_extract(name: str, quarter: str, folder: Path, *, scale: int = 1) -> Path:
    """Write one sample extract `<folder>/<name>.csv` for `quarter`; returns its path.

    Deterministic: the bytes depend only on (name, quarter, scale). Columns in
    schema order, unquoted (no value needs quoting), missing values empty.
    A stale `<name>.csv.gz` in `folder` is removed (the contract forbids both).
    """
    spec = FILES[name]
    job = Job(Quarter.parse(quarter), targets(quarter), scale, Calendar.of(Quarter.parse(quarter)))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    tmp = folder / f".{name}.csv.tmp"
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    with open(tmp, "wb") as fh:
        fh.write((",".join(spec.column_names) + "\n").encode())
        for table in GENERATORS[name](job, _rng(quarter, name)):
            pcsv.write_csv(table.select(list(spec.column_names)), fh, write_options=options)
    os.replace(tmp, path)
    (folder / f"{name}.csv.gz").unlink(missing_ok=True)
    return path


def write_editorial(quarter: str, data_root: Path) -> list[Path]:
    """Copy the bundled editorial markdown of `quarter` (if any) to `<data_root>/<Q>/editorial/`."""
    source = EDITORIAL_SOURCE / quarter
    if not source.is_dir():
        return []
    target = paths.editorial_dir(quarter, data_root)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for stem in EDITORIAL_FILES:
        if (source / f"{stem}.md").is_file():
            written.append(Path(shutil.copyfile(source / f"{stem}.md", target / f"{stem}.md")))
    return written


def missing_quarters(data_root: Path | None = None, quarters: Sequence[str] = QUARTERS) -> list[str]:
    """The sample quarters that have no folder `<data_root>/<Q>` yet."""
    root = Path(data_root) if data_root is not None else paths.data_root()
    return [q for q in quarters if not paths.quarter_dir(q, root).exists()]


def write_sample(
    data_root: Path | None = None,
    *,
    scale: int = 1,
    quarters: Sequence[str] = QUARTERS,
    progress: Callable[[str], object] | None = print,
    jobs: int | None = None,
) -> list[Path]:
    """Write the synthetic sample into `data_root` (default `paths.data_root()`).

    For each quarter (default all eight, 2020Q2..2022Q1): every extract of
    schema.FILES as `<data_root>/<Q>/<name>.csv`, plus the quarter's editorial
    markdown. `scale` multiplies volumes (rows of calls, chats, sessions, surveys,
    tickets, SMS recipients) and keeps every printed rate. Files of the same names
    are overwritten, nothing else is touched. Returns the paths written; `progress`
    receives one line per file (None = silent). `jobs` processes write the files
    (default `default_jobs()`; 1 = in this process); the bytes do not depend on it.
    """
    if scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, not {scale!r}")
    root = Path(data_root) if data_root is not None else paths.data_root()
    say = progress or (lambda _msg: None)
    for quarter in quarters:
        targets(quarter)  # refuse unknown quarters before writing anything
    tasks = [(name, quarter, paths.quarter_dir(quarter, root)) for quarter in quarters for name in FILES]
    workers = min(jobs or default_jobs(), len(tasks))
    written: list[Path] = []
    with contextlib.ExitStack() as stack:
        if workers > 1:  # files are independent (one random stream each): any order, same bytes
            pool = stack.enter_context(
                ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            )
            # on an error, the files not started yet are not written
            stack.callback(pool.shutdown, cancel_futures=True)
            results = [pool.submit(write_extract, *task, scale=scale) for task in tasks]
            paths_written: Iterator[Path] = (future.result() for future in results)
        else:
            paths_written = (write_extract(*task, scale=scale) for task in tasks)
        for (_name, quarter, _folder), path in zip(tasks, paths_written, strict=True):
            say(f"{quarter}: {path.name} ({path.stat().st_size / 1e6:.1f} MB)")
            written.append(path)
    for quarter in quarters:
        for path in write_editorial(quarter, root):
            say(f"{quarter}: editorial/{path.name}")
            written.append(path)
    return written


def default_jobs() -> int:
    """Processes writing the sample: two where the machine has two cores or more."""
    return min(2, os.cpu_count() or 1)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m helpers.devtools.sample [--data DIR] [--scale N] [--quarters Q ...] [--jobs N]
    [--missing-only]`."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.devtools.sample", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", default="", help="data root (default: data/ or $KFWK_DATA)")
    parser.add_argument("--scale", default="1", help="volume multiplier, a whole number >= 1")
    parser.add_argument("--quarters", nargs="+", default=list(QUARTERS), choices=QUARTERS)
    parser.add_argument("--jobs", type=int, default=0, help="processes (default: 2 on a multi-core machine)")
    parser.add_argument(
        "--missing-only",
        action="store_true",
        help="leave alone every quarter whose folder exists (what `make quarter` does on first use)",
    )
    args = parser.parse_args(argv)
    try:
        scale = int(args.scale or "1")
    except ValueError:
        parser.error(f"--scale must be a whole number >= 1, not {args.scale!r}")
    if scale < 1:
        parser.error(f"--scale must be a whole number >= 1, not {args.scale!r}")
    root = Path(args.data).resolve() if args.data else paths.data_root()
    quarters = tuple(args.quarters)
    if args.missing_only:
        quarters = tuple(missing_quarters(root, quarters))
        if not quarters:
            return 0
        print(f"==> sample data missing: generating {', '.join(quarters)}")
    written = write_sample(root, scale=scale, quarters=quarters, jobs=max(args.jobs, 0) or None)
    print(f"==> sample data (scale {scale}): {len(written)} files under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
