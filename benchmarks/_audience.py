"""A simulated audience for the recommendation replay (`benchmarks/recommend.py`): seeded, pure Python, no model.

Who the viewers are, what they want and what they will do next is drawn here once, before any recommender runs,
so every configuration of the bot is scored against the same future.

**Hidden from the bot** (it never sees these, only their consequences):
- each viewer's *persona*: a learning path through the catalog (数据分析: Excel → Python入门 → 数据分析 → SQL → 机器学习)
  plus a few side interests; one viewer in five mixes in a second persona's side courses;
- where on the path the viewer stands (the *frontier*: the first path course not bought yet) and where they
  entered it (step 0 or 1);
- whether the viewer is budget-minded (prefers courses ≤ 150 元 when straying from the path);
- the probabilities below.

**What the bot sees**, through the real pipeline: comments under videos (threads) about courses, the links it
answered with, clicks on those links and orders reported by the shop with the link id.

A *session* (a viewer active on a day, with probability `active`) is:
1. a video the viewer watches: about the frontier course 35 %, the course bought last 30 %, another course of
   the persona 15 %, any course 20 % (noise);
2. with probability `request`, a recommendation request under it, phrased from `REQUEST_BANK` (real-style
   comments written without looking at any recommender: 有没有推荐的课 / 学完X下一步学什么 / 零基础选哪个 /
   便宜点的有吗 …). The slot fillers are what the viewer would know: the course they finished (by an alias),
   a domain word of their persona (数据分析, 剪辑, 考研 — never a word that names one course only), their level
   and budget words;
3. with probability `click`, a click: the viewer asks for a course's link in a comment (the course by one of its
   aliases) and follows the link the bot answers with. Which course: the frontier 60 %, another course of the
   persona 20 % (side interests), any course 20 % (noise; budget-minded viewers pick a cheap one);
4. after a click, a purchase with probability 40 % (frontier course) or 8 % (anything else). Buying the
   frontier moves the frontier along the path.

Scoring: a request's *next click* is the course of the viewer's first click after it (in the same session or a
later one) on a course other than the one of the video it was written under; its *next purchase* likewise.
Requests with no such later click (purchase) are left out of that score. A click on the video's own course is the
viewer acting on the video, not on a recommendation: they were watching it already, and the bot is told not to
offer it again unless asked by name (`thread_course_penalty`).

**What would make it too easy** (and is avoided): a request naming its target (requests only name courses the
viewer already finished, and domain words shared by several courses); a deterministic path (20 % noise clicks,
side interests, two entry points, mixed personas); the thread always being the target (it is the frontier in
35 % of sessions only); viewers clicking the bot's own recommendation (they never do: clicks are drawn before any
recommender runs, so the replay measures prediction of what viewers want, not a feedback loop).
**What would make it too hard**: nothing here is invisible in principle: personas repeat across ~20 viewers
each at the default 300, so co-clicks carry the path order, and past clicks and purchases carry the frontier.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

START = datetime(2026, 11, 2, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Persona:
    name: str
    path: tuple[str, ...]  # courses in the order such a viewer takes them
    side: tuple[str, ...]  # courses such a viewer also looks at
    domains: tuple[str, ...]  # words such a viewer uses for what they want to learn


# Written from the catalog alone (config/catalog.yaml), as a creator would describe their audience.
PERSONAS: tuple[Persona, ...] = (
    Persona("data-analyst", ("excel-pro", "py-101", "py-data", "sql-101", "ml-101"), ("ppt-design", "py-spider"),
            ("数据分析", "数据", "做报表", "python")),
    Persona("ai-engineer", ("py-101", "ml-101", "dl-pytorch"), ("py-data", "sql-101"), ("人工智能", "AI", "算法", "python")),
    Persona("crawler", ("py-101", "py-spider", "py-data"), ("sql-101", "excel-pro"), ("python", "自动化", "编程")),
    Persona("web-dev", ("sql-101", "vue-front", "java-backend"), ("py-101",), ("编程", "找工作", "开发", "转行")),
    Persona("office", ("excel-pro", "ppt-design", "sql-101"), ("py-101", "putonghua"), ("办公", "职场", "工作用的")),
    Persona("kaoyan", ("cet-46", "kaoyan-en", "kaoyan-math"), ("putonghua",), ("考研", "英语", "考试")),
    Persona("abroad", ("cet-46", "ielts-7", "jp-n2"), ("kaoyan-en",), ("留学", "英语", "外语", "口语")),
    Persona("video-maker", ("jianying-101", "pr-edit", "davinci-color"), ("zimeiti", "phone-photo"), ("剪辑", "视频", "做视频")),
    Persona("side-hustle", ("zimeiti", "xhs-ops", "jianying-101"), ("phone-photo", "pr-edit"), ("副业", "自媒体", "赚钱", "运营")),
    Persona("photographer", ("phone-photo", "photo-101", "ps-retouch"), ("davinci-color", "illust-draw"), ("拍照", "摄影", "修图")),
    Persona("designer", ("ps-retouch", "illust-draw", "ppt-design"), ("photo-101",), ("设计", "画画", "美术")),
    Persona("finance", ("licai-101", "fund-dingtou"), ("zimeiti", "excel-pro"), ("理财", "投资", "存钱")),
    Persona("civil-service", ("putonghua", "gwy-exam"), ("kaoyan-en", "excel-pro"), ("考公", "考编", "考证", "上岸")),
    Persona("hobby", ("guitar-101", "fitness-home", "illust-draw"), ("phone-photo",), ("兴趣", "业余", "爱好")),
)

RequestKind = Literal["generic", "after", "domain", "beginner", "advanced", "budget", "free", "other"]

# Real-style recommendation requests. {after}: a course the viewer finished (an alias); {domain}: a domain word.
REQUEST_BANK: Mapping[RequestKind, tuple[str, ...]] = {
    "generic": ("有没有推荐的课", "还有别的课推荐吗", "up主还有什么课值得买", "求推荐一门课 有点迷茫", "下一步学啥好呢",
                "老师能推荐一下接下来学什么吗", "有啥课适合我吗", "想报个课 不知道选哪个", "你家的课哪个最值得学",
                "推荐一下呗 不知道从哪门开始"),
    "other": ("这个看完了 还有类似的课吗", "同系列还有别的吗", "除了这个还有啥推荐", "跟这个差不多的还有吗"),
    "after": ("学完{after}下一步学什么", "{after}已经学完了 接下来报哪个", "买过{after}了 还有进阶的推荐吗",
              "{after}学得差不多了 后面该学啥", "刚结课{after} 求推荐下一门"),
    "domain": ("想学{domain}有推荐的课吗", "{domain}方向的课推荐一个", "想往{domain}发展 先学哪门", "有没有讲{domain}的课",
               "我想搞{domain} 报哪个课比较好"),
    "beginner": ("零基础选哪个", "纯小白 从哪门课开始比较好", "完全没基础 推荐个入门的", "{domain}零基础应该先学哪个",
                 "新手想学{domain} 有入门课吗"),
    "advanced": ("有点基础了 想进阶 推荐哪个", "入门的学完了 有没有难一点的", "{domain}有进阶一点的课吗"),
    "budget": ("便宜点的有吗", "学生党 有没有性价比高的课", "预算不多 推荐个便宜的", "{domain}有没有便宜点的课"),
    "free": ("有免费的课吗", "有没有免费的可以先试试", "白嫖党 有免费课推荐吗"),
}

# Link requests: the viewer names the course (by an alias) and asks where to get it.
LINK_BANK: tuple[str, ...] = ("{alias}链接发一下", "{alias}在哪买", "{alias}的链接有吗", "求{alias}链接", "{alias}怎么报名")

# Videos about a course: half name it, half only its topic (a tag), as creators title their uploads.
VIDEO_BANK: tuple[str, ...] = ("{title}｜第{n}讲", "试听课：{title}", "【{title}】学员作品点评", "{title} 常见问题答疑 第{n}期",
                               "{tag}新手必看的{n}个技巧", "{tag}干货分享｜第{n}期", "3分钟讲清楚{tag}", "{tag}常见误区，你中了几个？")


@dataclass(frozen=True, slots=True)
class CourseInfo:
    """What the generator needs of a catalog course (read from config/catalog.yaml by the caller)."""

    id: str
    title: str
    price: float
    aliases: tuple[str, ...]
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Viewer:
    id: str
    persona: str  # hidden
    second: str | None  # hidden: a second persona whose side courses this viewer also looks at
    budget: bool  # hidden: prefers cheap courses when straying
    entry: int  # hidden: the path step the viewer started at


@dataclass(frozen=True, slots=True)
class Step:
    """One scripted thing a viewer does, in time order."""

    kind: Literal["request", "link", "purchase"]
    viewer: str
    at: datetime
    day: int
    thread_id: str
    thread_title: str
    thread_course: str  # the course the video is about (hidden: the bot infers it from the title)
    text: str = ""  # the comment (request, link)
    course: str | None = None  # link / purchase: the course
    request_kind: RequestKind | None = None
    id: str = ""


@dataclass
class Script:
    viewers: list[Viewer]
    steps: list[Step]
    next_click: dict[str, str] = field(default_factory=dict)  # request step id → course of the viewer's next click
    next_purchase: dict[str, str] = field(default_factory=dict)

    @property
    def requests(self) -> list[Step]:
        return [s for s in self.steps if s.kind == "request"]


@dataclass(frozen=True, slots=True)
class Knobs:
    active: float = 0.3  # chance a viewer has a session on a given day
    request: float = 0.5  # chance a session carries a recommendation request
    click: float = 0.75  # chance a session carries a click
    buy_frontier: float = 0.4
    buy_other: float = 0.08
    noise: float = 0.2  # share of clicks on any course at all
    cheap: float = 150.0  # "cheap" for budget-minded viewers


def generate(catalog: Sequence[CourseInfo], *, viewers: int = 300, days: int = 28, seed: int = 18, knobs: Knobs = Knobs()) -> Script:
    """The whole script: viewers, their sessions day by day, and each request's next click and purchase."""
    rng = random.Random(seed)
    courses = {c.id: c for c in catalog}
    personas = {p.name: p for p in PERSONAS if all(c in courses for c in (*p.path, *p.side))}
    if not personas:
        raise ValueError("no persona fits this catalog: the audience is written for config/catalog.yaml")
    names = sorted(personas)
    people = [Viewer(f"v{n:05d}", rng.choice(names), rng.choice(names) if rng.random() < 0.2 else None, rng.random() < 0.3,
                     0 if rng.random() < 0.7 else 1) for n in range(viewers)]
    state = {v.id: _State(v, personas, courses) for v in people}
    steps: list[Step] = []
    for day in range(days):
        for viewer in people:
            if rng.random() < knobs.active:
                steps += _session(rng, state[viewer.id], day, knobs, courses)
    steps.sort(key=lambda s: (s.at, s.viewer, s.kind != "request"))
    steps = [_with_id(s, n) for n, s in enumerate(steps)]
    script = Script(people, steps)
    _label_next(script)
    return script


class _State:
    def __init__(self, viewer: Viewer, personas: Mapping[str, Persona], courses: Mapping[str, CourseInfo]) -> None:
        self.viewer = viewer
        self.persona = personas[viewer.persona]
        second = personas[viewer.second].side if viewer.second else ()
        self.related = tuple(dict.fromkeys((*self.persona.path, *self.persona.side, *second)))
        self.bought: list[str] = list(self.persona.path[: viewer.entry])  # entered at step 1: step 0 done elsewhere
        self.courses = courses

    @property
    def frontier(self) -> str | None:
        return next((c for c in self.persona.path if c not in self.bought), None)

    @property
    def last(self) -> str | None:
        return self.bought[-1] if self.bought else None


def _session(rng: random.Random, st: _State, day: int, knobs: Knobs, courses: Mapping[str, CourseInfo]) -> list[Step]:
    at = START + timedelta(days=day, seconds=rng.randrange(8 * 3600, 23 * 3600))
    everything = sorted(courses)
    roll = rng.random()
    frontier, last = st.frontier, st.last
    if roll < 0.35 and frontier:
        about = frontier
    elif roll < 0.65 and last:
        about = last
    elif roll < 0.8:
        about = rng.choice(st.related)
    else:
        about = rng.choice(everything)
    course = courses[about]
    n = rng.randrange(1, 30)
    title = rng.choice(VIDEO_BANK).format(title=course.title, tag=rng.choice(course.tags or (course.title,)), n=n)
    steps = []
    where = {"viewer": st.viewer.id, "day": day, "thread_id": "vid-" + hashlib.sha1(title.encode()).hexdigest()[:10], "thread_title": title, "thread_course": about}
    if rng.random() < knobs.request:
        kind, text = _request_text(rng, st, courses)
        steps.append(Step("request", at=at, text=text, request_kind=kind, **where))
    if rng.random() < knobs.click:
        target = _click_target(rng, st, knobs, everything)
        alias = rng.choice(courses[target].aliases or (courses[target].title,))
        click_at = at + timedelta(minutes=rng.randrange(1, 90))
        steps.append(Step("link", at=click_at, text=rng.choice(LINK_BANK).format(alias=alias), course=target, **where))
        buy = knobs.buy_frontier if target == frontier else knobs.buy_other
        if target not in st.bought and rng.random() < buy:
            steps.append(Step("purchase", at=click_at + timedelta(minutes=rng.randrange(1, 60)), course=target, **where))
            st.bought.append(target)
    return steps


def _click_target(rng: random.Random, st: _State, knobs: Knobs, everything: list[str]) -> str:
    roll = rng.random()
    frontier = st.frontier
    if roll < 0.6 and frontier:
        return frontier
    if roll < 1 - knobs.noise:
        others = [c for c in st.related if c != frontier] or list(st.related)
        return rng.choice(others)
    pool = everything
    if st.viewer.budget:
        pool = [c for c in everything if st.courses[c].price <= knobs.cheap] or everything
    return rng.choice(pool)


def _request_text(rng: random.Random, st: _State, courses: Mapping[str, CourseInfo]) -> tuple[RequestKind, str]:
    kinds: list[RequestKind] = ["generic", "generic", "other", "domain", "domain"]
    if st.last:
        kinds += ["after", "after", "advanced"]
    else:
        kinds += ["beginner", "beginner"]
    if st.viewer.budget:
        kinds += ["budget", "budget", "free"]
    kind = rng.choice(kinds)
    after = rng.choice(courses[st.last].aliases or (courses[st.last].title,)) if st.last else ""
    text = rng.choice(REQUEST_BANK[kind]).format(after=after, domain=rng.choice(st.persona.domains))
    return kind, text


def _with_id(step: Step, n: int) -> Step:
    return replace(step, id=f"s{n:06d}")


def _label_next(script: Script) -> None:
    """Each request's next click and next purchase by the same viewer, strictly after it, on a course other than the
    one of the video the request was written under: the viewer was watching that course's video already, so a
    recommendation of it answers nothing (issue 18: the thread's own course "is usually *not* what someone asking
    还有别的课推荐吗 wants again"; the real-style set is labelled by the same rule)."""
    pending: dict[str, list[Step]] = {}
    pending_buy: dict[str, list[Step]] = {}
    for step in script.steps:
        if step.kind == "request":
            pending.setdefault(step.viewer, []).append(step)
            pending_buy.setdefault(step.viewer, []).append(step)
        elif step.kind in ("link", "purchase") and step.course:
            waiting, labels = (pending, script.next_click) if step.kind == "link" else (pending_buy, script.next_purchase)
            still = []
            for request in waiting.pop(step.viewer, []):
                if step.course == request.thread_course:
                    still.append(request)
                else:
                    labels[request.id] = step.course
            if still:
                waiting[step.viewer] = still


def catalog_infos(path: Path) -> list[CourseInfo]:
    """CourseInfo for every course of a catalog file, through the bot's own loader."""
    from bot.catalog import load_courses

    return [CourseInfo(c.id, c.title, c.price, tuple(c.aliases), tuple(c.tags)) for c in load_courses(Path(path)).values()]
