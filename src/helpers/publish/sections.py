"""The bulletin's sections, in print order: which notebook makes each, with which
parameters, and what it depends on (for re-running only what is stale)."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpers import paths

# Group headings as the printed bulletin has them; sections with the same group
# follow one heading.
OPERATIONS = "主要指标完成情况"


@dataclass(frozen=True)
class Section:
    id: str  # stable ASCII id: file names, anchors, figure folders
    title: str  # the heading readers see
    notebook: str  # file in notebooks/
    group: str = ""  # heading printed above the first section of a run of sections
    parameters: dict = field(default_factory=dict)  # extra papermill parameters
    extracts: tuple[str, ...] = ()  # extracts whose content the section shows
    editorial: str = ""  # editorial file stem it renders, if any

    @property
    def notebook_path(self):
        return paths.NOTEBOOKS / self.notebook


SECTIONS: tuple[Section, ...] = (
    Section("foreword", "卷首语", "editorial.ipynb", parameters={"part": "foreword"}, editorial="foreword"),
    Section(
        "inbound_general",
        "综合呼入业务",
        "inbound.ipynb",
        OPERATIONS,
        {"line_key": "general"},
        ("inbound_calls",),
    ),
    Section(
        "inbound_credit_card",
        "信用卡呼入业务",
        "inbound.ipynb",
        OPERATIONS,
        {"line_key": "credit_card"},
        ("inbound_calls",),
    ),
    Section("satisfaction", "客户满意度", "satisfaction.ipynb", OPERATIONS, {}, ("surveys",)),
    Section("outbound", "呼出服务", "outbound.ipynb", OPERATIONS, {}, ("outbound_calls",)),
    Section(
        "smart",
        "智慧客服",
        "smart.ipynb",
        OPERATIONS,
        {},
        ("smart_sessions", "inbound_calls", "online_chats"),
    ),
    Section("video", "视频客服", "video.ipynb", OPERATIONS, {}, ("video_sessions", "surveys")),
    Section("online", "网络在线服务", "online.ipynb", OPERATIONS, {}, ("online_chats", "surveys")),
    Section("sms", "短信服务", "sms.ipynb", OPERATIONS, {}, ("sms_batches",)),
    Section("feedback", "客户信息反馈", "feedback.ipynb", OPERATIONS, {}, ("feedback",)),
    Section("tickets", "工单", "tickets.ipynb", OPERATIONS, {}, ("tickets",)),
    Section("knowledge_base", "知识库维护", "knowledge_base.ipynb", OPERATIONS, {}, ("kb_changes",)),
    Section("training", "员工培训", "training.ipynb", OPERATIONS, {}, ("training",)),
    # The headline KPIs over the last `trend_quarters` quarters (each from its own store).
    Section(
        "trend",
        "近期趋势",
        "trend.ipynb",
        OPERATIONS,
        {},
        ("inbound_calls", "surveys", "smart_sessions", "online_chats", "tickets"),
    ),
    Section(
        "key_work",
        "主要工作完成情况",
        "editorial.ipynb",
        parameters={"part": "key_work"},
        editorial="key_work",
    ),
    Section(
        "interest_group",
        "互联网金融兴趣小组",
        "editorial.ipynb",
        parameters={"part": "interest_group"},
        editorial="interest_group",
    ),
    Section("awards", "评优评先", "awards.ipynb", extracts=("awards",)),
    Section("closing", "结语", "editorial.ipynb", parameters={"part": "closing"}, editorial="closing"),
)
