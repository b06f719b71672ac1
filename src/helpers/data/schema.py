"""The extract contract (docs/contract/EXTRACTS.md) as data.

One `FileSpec` per extract: its columns, their types and rules, the start column
that places a record in a quarter, its key, and the bulletin section that needs
it. The validator, the sample generator and the docs all read this table, so a
rule lives in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column kinds. Typed tables (after validation) hold:
#   text -> pandas string; timestamp/date/month -> datetime64 (naive, Asia/Shanghai;
#   date at midnight, month at the first day); boolean -> bool (nullable "boolean"
#   when optional); integer -> int64; decimal -> float64. Optional text is <NA>.
TEXT, TIMESTAMP, DATE, MONTH, BOOLEAN, INTEGER, DECIMAL = (
    "text",
    "timestamp",
    "date",
    "month",
    "boolean",
    "integer",
    "decimal",
)

LINES = ("综合", "信用卡")
AGENT_TYPES = ("自有", "外包")
SMART_CHANNELS = ("文本机器人", "语音导航")
SURVEY_CHANNELS = ("语音", "在线", "视频")
RATINGS = ("非常满意", "满意", "一般", "不满意", "非常不满意")
FEEDBACK_STATUSES = ("已优化", "列入计划", "待反馈")
TICKET_TYPES = ("投诉", "建议", "疑难", "咨询", "表扬", "其他")
ROUTES = ("分支行", "总行部室", "客服中心")
KB_ACTIONS = ("梳理优化", "新增", "优化")


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    optional: bool = False
    choices: tuple[str, ...] | None = None  # allowed values, after trimming
    unique: bool = False


@dataclass(frozen=True)
class FileSpec:
    name: str  # file stem: `inbound_calls` is read from inbound_calls.csv[.gz]
    section: str  # the bulletin section that needs this file (for messages)
    columns: tuple[Column, ...]
    start: str  # the column whose value places a record in a quarter
    key: tuple[str, ...]  # unique within the file
    # Cross-column rules, checked by the validator (see extracts.py):
    #   ("after", a, b)        b >= a when both present
    #   ("required_if_present", a, b)  b required when a present
    #   ("required_if_equals", col, value, b)  b required when col == value
    #   ("le", a, b)           a <= b
    rules: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_ANSWERED = (
    Column("answered_at", TIMESTAMP, optional=True),
    Column("ended_at", TIMESTAMP, optional=True),
    Column("agent_type", TEXT, optional=True, choices=AGENT_TYPES),
)
_ANSWER_RULES = (
    ("after", "requested_at", "answered_at"),
    ("after", "answered_at", "ended_at"),
    ("required_if_present", "answered_at", "ended_at"),
    ("required_if_present", "answered_at", "agent_type"),
)

FILES: dict[str, FileSpec] = {
    spec.name: spec
    for spec in (
        FileSpec(
            "inbound_calls",
            "综合呼入业务 / 信用卡呼入业务",
            (
                Column("call_id", TEXT, unique=True),
                Column("line", TEXT, choices=LINES),
                Column("requested_at", TIMESTAMP),
                *_ANSWERED,
            ),
            start="requested_at",
            key=("call_id",),
            rules=_ANSWER_RULES,
        ),
        FileSpec(
            "online_chats",
            "网络在线服务",
            (Column("chat_id", TEXT, unique=True), Column("requested_at", TIMESTAMP), *_ANSWERED),
            start="requested_at",
            key=("chat_id",),
            rules=_ANSWER_RULES,
        ),
        FileSpec(
            "outbound_calls",
            "呼出服务",
            (
                Column("call_id", TEXT, unique=True),
                Column("dialed_at", TIMESTAMP),
                Column("service", TEXT),
                Column("connected", BOOLEAN),
            ),
            start="dialed_at",
            key=("call_id",),
        ),
        FileSpec(
            "smart_sessions",
            "智慧客服",
            (
                Column("session_id", TEXT, unique=True),
                Column("channel", TEXT, choices=SMART_CHANNELS),
                Column("started_at", TIMESTAMP),
                Column("questions", INTEGER),
                Column("standard_answers", INTEGER),
                Column("recognized", BOOLEAN, optional=True),
                Column("transferred", BOOLEAN),
            ),
            start="started_at",
            key=("session_id",),
            rules=(
                ("le", "standard_answers", "questions"),
                ("required_if_equals", "channel", "语音导航", "recognized"),
            ),
        ),
        FileSpec(
            "video_sessions",
            "视频客服",
            (
                Column("session_id", TEXT, unique=True),
                Column("started_at", TIMESTAMP),
                Column("business_type", TEXT, optional=True),
            ),
            start="started_at",
            key=("session_id",),
        ),
        FileSpec(
            "surveys",
            "客户满意度",
            (
                Column("survey_id", TEXT, unique=True),
                Column("channel", TEXT, choices=SURVEY_CHANNELS),
                Column("responded_at", TIMESTAMP),
                Column("rating", TEXT, choices=RATINGS),
            ),
            start="responded_at",
            key=("survey_id",),
        ),
        FileSpec(
            "sms_batches",
            "短信服务",
            (
                Column("batch_id", TEXT, unique=True),
                Column("sent_on", DATE),
                Column("service", TEXT),
                Column("recipients", INTEGER),
            ),
            start="sent_on",
            key=("batch_id",),
        ),
        FileSpec(
            "feedback",
            "客户信息反馈",
            (
                Column("feedback_id", TEXT, unique=True),
                Column("reported_on", DATE),
                Column("department", TEXT),
                Column("summary", TEXT),
                Column("status", TEXT, choices=FEEDBACK_STATUSES),
            ),
            start="reported_on",
            key=("feedback_id",),
        ),
        FileSpec(
            "tickets",
            "工单",
            (
                Column("ticket_id", TEXT, unique=True),
                Column("created_at", TIMESTAMP),
                Column("request_type", TEXT, choices=TICKET_TYPES),
                Column("ticket_type", TEXT, choices=TICKET_TYPES),
                Column("routed_to", TEXT, choices=ROUTES),
            ),
            start="created_at",
            key=("ticket_id",),
        ),
        FileSpec(
            "kb_changes",
            "知识库维护",
            (
                Column("change_id", TEXT, unique=True),
                Column("changed_on", DATE),
                Column("section", TEXT),
                Column("action", TEXT, choices=KB_ACTIONS),
                Column("knowledge_points", INTEGER),
            ),
            start="changed_on",
            key=("change_id",),
        ),
        FileSpec(
            "training",
            "员工培训",
            (
                Column("session_id", TEXT),
                Column("held_on", DATE),
                Column("topic", TEXT),
                Column("staff_id", TEXT),
                Column("hours", DECIMAL),
            ),
            start="held_on",
            key=("session_id", "staff_id"),
        ),
        FileSpec(
            "awards",
            "评优评先",
            (
                Column("month", MONTH),
                Column("category", TEXT),
                Column("winner", TEXT),
                Column("leader", TEXT, optional=True),
            ),
            start="month",
            key=("month", "category", "winner"),
        ),
    )
}

EDITORIAL_FILES = {
    "foreword": "卷首语",
    "key_work": "主要工作完成情况",
    "interest_group": "互联网金融兴趣小组",
    "closing": "结语",
}
