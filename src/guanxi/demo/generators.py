"""Realistic, deterministic fake data for the demo and the benchmarks (pure: a seeded RNG in).

People with Chinese or English names and +86 mobiles, B2B companies with buying committees, and
B2C consumers. Later modules turn these records into contacts, accounts and events; keep the
shapes plain so that a generator can feed an ORM insert, a CSV file or a COPY stream alike.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬斌宇浩凯健俊帆帅旭宁欣怡婷雪琳晨辰瑞博文思雨佳子涵梓轩一诺宇航"
PINYIN = {
    "王": "wang",
    "李": "li",
    "张": "zhang",
    "刘": "liu",
    "陈": "chen",
    "杨": "yang",
    "黄": "huang",
    "赵": "zhao",
    "吴": "wu",
    "周": "zhou",
    "徐": "xu",
    "孙": "sun",
    "马": "ma",
    "朱": "zhu",
    "胡": "hu",
    "郭": "guo",
    "何": "he",
    "高": "gao",
    "林": "lin",
    "罗": "luo",
    "郑": "zheng",
}
FIRST_EN = [
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "James",
    "Sophia",
    "Lucas",
    "Mia",
    "Ethan",
    "Grace",
    "Daniel",
    "Chloe",
    "Henry",
    "Lily",
    "Jack",
    "Zoe",
    "Leo",
    "Ella",
    "Owen",
]
LAST_EN = [
    "Smith",
    "Johnson",
    "Brown",
    "Taylor",
    "Miller",
    "Wilson",
    "Moore",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
]
# Mobile prefixes of China Mobile, Unicom and Telecom (+86 1xx xxxx xxxx).
MOBILE_PREFIXES = [
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "157",
    "158",
    "159",
    "178",
    "182",
    "183",
    "187",
    "188",
    "130",
    "131",
    "132",
    "155",
    "156",
    "166",
    "175",
    "176",
    "185",
    "186",
    "133",
    "153",
    "173",
    "177",
    "180",
    "181",
    "189",
    "191",
    "199",
]
CITIES = [
    ("上海", "上海", "East"),
    ("北京", "北京", "North"),
    ("深圳", "广东", "South"),
    ("广州", "广东", "South"),
    ("杭州", "浙江", "East"),
    ("苏州", "江苏", "East"),
    ("成都", "四川", "West"),
    ("武汉", "湖北", "Central"),
    ("南京", "江苏", "East"),
    ("西安", "陕西", "West"),
    ("天津", "天津", "North"),
    ("重庆", "重庆", "West"),
]
INDUSTRIES = [
    "Manufacturing",
    "SaaS",
    "Healthcare",
    "Education",
    "Retail",
    "Finance",
    "Logistics",
    "Energy",
    "Automotive",
    "Real estate",
]
COMPANY_WORDS = [
    "华",
    "科",
    "智",
    "远",
    "恒",
    "信",
    "达",
    "创",
    "博",
    "新",
    "通",
    "联",
    "星",
    "云",
    "海",
]
COMPANY_SUFFIX = [
    "科技有限公司",
    "信息技术有限公司",
    "制造有限公司",
    "集团股份有限公司",
    "网络科技有限公司",
]
EMAIL_DOMAINS_B2C = ["qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com"]
TITLES = {
    "decision_maker": ["CEO", "CTO", "COO", "VP Sales", "总经理", "副总裁"],
    "influencer": ["IT Director", "Head of Marketing", "市场总监", "技术总监"],
    "user": ["Engineer", "Analyst", "Marketing Specialist", "运营专员", "销售经理"],
    "procurement": ["Procurement Manager", "采购经理"],
    "champion": ["Product Manager", "项目经理", "数字化负责人"],
}


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str  # E.164
    city: str
    province: str
    region: str
    language: str  # zh_CN | en
    gender: str  # female | male | unknown


@dataclass(frozen=True)
class CommitteeMember:
    person: Person
    role: str  # decision_maker | influencer | user | procurement | champion
    title: str
    reports_to: int | None  # index in the committee


@dataclass(frozen=True)
class Company:
    name: str
    domain: str
    industry: str
    size: str
    tier: str  # KA | mid | SMB
    region: str
    city: str
    committee: list[CommitteeMember] = field(default_factory=list)


def mobile(rng: random.Random) -> str:
    return f"+86{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**8):08d}"


def person(rng: random.Random, *, domain: str | None = None, english_share: float = 0.2) -> Person:
    city, province, region = rng.choice(CITIES)
    serial = rng.randrange(10**6)
    if rng.random() < english_share:
        first, last = rng.choice(FIRST_EN), rng.choice(LAST_EN)
        name, handle, language = f"{first} {last}", f"{first}.{last}".lower(), "en"
        gender = "unknown"
    else:
        surname = rng.choice(SURNAMES)
        given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        name, language = surname + given, "zh_CN"
        handle = f"{PINYIN.get(surname, 'user')}{serial}"
        gender = rng.choice(("female", "male"))
    email = (
        f"{handle}@{domain}"
        if domain
        else f"{handle}{serial % 1000}@{rng.choice(EMAIL_DOMAINS_B2C)}"
    )
    return Person(name, email, mobile(rng), city, province, region, language, gender)


def company(rng: random.Random) -> Company:
    """A B2B account with a buying committee of 3–8 people and its reporting lines."""
    stem = "".join(rng.sample(COMPANY_WORDS, 2))
    city, _, region = rng.choice(CITIES)
    name = f"{city}{stem}{rng.choice(COMPANY_SUFFIX)}"
    domain = f"{''.join(rng.choice('abcdefghjkmnpqrstwxyz') for _ in range(6))}.com.cn"
    tier = rng.choices(("KA", "mid", "SMB"), weights=(1, 3, 6))[0]
    size = {"KA": "1000+", "mid": "200-999", "SMB": rng.choice(("1-49", "50-199"))}[tier]
    roles = [
        "decision_maker",
        "influencer",
        "champion",
        *rng.sample(["user", "user", "procurement", "influencer", "user"], rng.randrange(0, 6)),
    ]
    committee: list[CommitteeMember] = []
    for i, role in enumerate(roles):
        boss = (
            None
            if i == 0
            else (0 if role in ("influencer", "procurement", "champion") else rng.randrange(i))
        )
        committee.append(
            CommitteeMember(
                person(rng, domain=domain, english_share=0.1), role, rng.choice(TITLES[role]), boss
            )
        )
    return Company(name, domain, rng.choice(INDUSTRIES), size, tier, region, city, committee)


def companies(seed: int, n: int) -> Iterator[Company]:
    rng = random.Random(seed)
    for _ in range(n):
        yield company(rng)


def consumers(seed: int, n: int) -> Iterator[Person]:
    """B2C shoppers: one person each, no company."""
    rng = random.Random(seed)
    for _ in range(n):
        yield person(rng, english_share=0.05)
