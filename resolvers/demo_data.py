"""Static vocabulary of the demo data set (resolvers/demo.py draws from it).

Real Beijing administrative divisions and authorities, real public institutions
(hospitals, universities, research institutes, museums, schools, state-owned
enterprises) and the series, specialties and title names of the 职称 system. Private
companies are invented from trade-name syllables at load time, so that no real firm
is shown with a made-up credit code.
"""

from dataclasses import dataclass

from models.enums import InstitutionKind, Level, UnitType

# --- places ---------------------------------------------------------------------------

# The 16 districts with their GB/T 2260 administrative division codes.
DISTRICTS: tuple[tuple[str, str], ...] = (
    ("东城", "110101"),
    ("西城", "110102"),
    ("朝阳", "110105"),
    ("丰台", "110106"),
    ("石景山", "110107"),
    ("海淀", "110108"),
    ("门头沟", "110109"),
    ("房山", "110111"),
    ("通州", "110112"),
    ("顺义", "110113"),
    ("昌平", "110114"),
    ("大兴", "110115"),
    ("怀柔", "110116"),
    ("平谷", "110117"),
    ("密云", "110118"),
    ("延庆", "110119"),
)
DISTRICT_CODES: dict[str, str] = dict(DISTRICTS)
# Where people were born (ID area code): the central districts weigh more.
BIRTH_DISTRICT_WEIGHTS: dict[str, int] = {
    "东城": 9, "西城": 10, "朝阳": 12, "丰台": 7, "石景山": 4, "海淀": 12, "门头沟": 2,
    "房山": 4, "通州": 4, "顺义": 3, "昌平": 4, "大兴": 4, "怀柔": 2, "平谷": 2,
    "密云": 2, "延庆": 1,
}  # fmt: skip

STREETS: dict[str, tuple[str, ...]] = {
    "东城": ("东四十条", "朝阳门北大街", "东直门南大街", "崇文门外大街"),
    "西城": ("西直门南大街", "阜成门外大街", "复兴门内大街", "宣武门西大街"),
    "朝阳": ("朝阳门外大街", "东三环北路", "北辰东路", "建国路"),
    "丰台": ("丰台北路", "南四环西路", "西四环南路"),
    "石景山": ("石景山路", "鲁谷路"),
    "海淀": ("中关村大街", "学院路", "复兴路", "北四环西路", "知春路"),
    "门头沟": ("新桥大街", "滨河路"),
    "房山": ("良乡拱辰大街", "长虹西路"),
    "通州": ("新华大街", "运河东大街", "玉桥中路"),
    "顺义": ("府前中街", "光明南街"),
    "昌平": ("政府街", "回龙观西大街", "科技园路"),
    "大兴": ("兴政街", "黄村西大街", "经海路"),
    "怀柔": ("府前街", "青春路"),
    "平谷": ("府前街", "新平北路"),
    "密云": ("鼓楼东大街", "新中街"),
    "延庆": ("妫水北街", "高塔街"),
}

# --- people ---------------------------------------------------------------------------

# Common surnames, weighted roughly by frequency in Beijing.
SURNAMES: tuple[tuple[str, int], ...] = (
    ("王", 90), ("李", 85), ("张", 85), ("刘", 75), ("陈", 45), ("杨", 40), ("赵", 40),
    ("黄", 22), ("周", 22), ("吴", 20), ("徐", 18), ("孙", 25), ("马", 22), ("朱", 15),
    ("胡", 15), ("郭", 18), ("何", 12), ("高", 20), ("林", 10), ("罗", 8), ("郑", 10),
    ("梁", 10), ("谢", 8), ("宋", 10), ("唐", 8), ("许", 8), ("韩", 12), ("冯", 8),
    ("邓", 6), ("曹", 9), ("彭", 5), ("曾", 5), ("肖", 6), ("田", 9), ("董", 9),
    ("袁", 6), ("潘", 4), ("于", 10), ("蒋", 4), ("蔡", 4), ("余", 3), ("杜", 7),
    ("叶", 3), ("程", 5), ("苏", 5), ("魏", 7), ("吕", 6), ("丁", 6), ("任", 7),
    ("沈", 4), ("姚", 5), ("卢", 4), ("姜", 6), ("崔", 7), ("钟", 2), ("谭", 3),
    ("陆", 3), ("汪", 3), ("范", 5), ("金", 5), ("石", 5), ("廖", 2), ("贾", 7),
    ("夏", 3), ("付", 5), ("方", 3), ("白", 6), ("邹", 2), ("孟", 6), ("秦", 4),
    ("邱", 2), ("江", 2), ("尹", 4), ("薛", 4), ("闫", 5), ("段", 4), ("雷", 3),
    ("侯", 5), ("史", 5), ("陶", 2), ("贺", 3), ("顾", 2), ("毛", 2), ("郝", 5),
    ("龚", 2), ("邵", 2), ("万", 2), ("钱", 2), ("严", 2), ("武", 5), ("戴", 2),
    ("孔", 3), ("欧阳", 1), ("司马", 1), ("上官", 1),
)  # fmt: skip

MALE_GIVEN = (
    "伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超", "明", "刚", "平", "辉", "鹏",
    "华", "飞", "鑫", "波", "宁", "健", "峰", "建", "国", "志", "海", "东", "文", "俊",
    "浩", "宇", "凯", "晨", "旭", "毅", "林", "亮", "成", "新", "永", "立", "昊", "博",
    "哲", "振", "晓", "春", "宏", "庆", "延", "卫", "民", "忠", "学", "德", "正", "云",
)  # fmt: skip
FEMALE_GIVEN = (
    "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "燕", "玲", "秀", "英", "华", "慧",
    "美", "婷", "雪", "琳", "晶", "颖", "倩", "洁", "萍", "红", "梅", "兰", "琴", "云",
    "莉", "欣", "怡", "佳", "蕾", "薇", "璐", "晓", "春", "文", "丹", "宁", "艺", "冰",
)  # fmt: skip

# Realistic mainland mobile number prefixes (three carriers).
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "176", "177", "180", "181", "182",
    "183", "185", "186", "187", "188", "189", "191", "198", "199",
)  # fmt: skip

# --- recommending authorities (Art. 15) -----------------------------------------------

# (full name, short key). The short key names the authority in UNITS below.
INDUSTRY_AUTHORITIES: tuple[tuple[str, str], ...] = (
    ("北京市教育委员会", "市教委"),
    ("北京市卫生健康委员会", "市卫生健康委"),
    ("北京市科学技术委员会、中关村科技园区管理委员会", "市科委"),
    ("北京市住房和城乡建设委员会", "市住房城乡建设委"),
    ("北京市经济和信息化局", "市经济和信息化局"),
    ("北京市农业农村局", "市农业农村局"),
    ("北京市文化和旅游局", "市文化和旅游局"),
    ("北京市财政局", "市财政局"),
    ("北京市交通委员会", "市交通委"),
    ("北京市水务局", "市水务局"),
    ("北京市生态环境局", "市生态环境局"),
    ("北京市规划和自然资源委员会", "市规划自然资源委"),
    ("北京市人民政府国有资产监督管理委员会", "市国资委"),
    ("北京市广播电视局", "市广电局"),
    ("北京市新闻出版局", "市新闻出版局"),
    ("北京市文物局", "市文物局"),
    ("北京市档案局", "市档案局"),
    ("北京市统计局", "市统计局"),
    ("北京市审计局", "市审计局"),
    ("北京市园林绿化局", "市园林绿化局"),
    ("北京市体育局", "市体育局"),
)


def district_bureau_name(district: str) -> str:
    return f"北京市{district}区人力资源和社会保障局"


# --- units (所在单位) ---------------------------------------------------------------------

# Sectors tie a unit to the series its staff hold titles in.
HEALTH, UNIVERSITY, SCHOOL, CONSTRUCTION = "health", "university", "school", "construction"
IT, MANUFACTURING, AGRICULTURE = "it", "manufacturing", "agriculture"
CULTURE, MEDIA, BUSINESS, RESEARCH = "culture", "media", "business", "research"

M, D, C, N = UnitType.MUNICIPAL, UnitType.DISTRICT, UnitType.CENTRAL, UnitType.NON_PUBLIC
PUBLIC_INSTITUTION, ENTERPRISE = "12", "91"  # GB 32100 registration authority + type


@dataclass(frozen=True)
class UnitSpec:
    """One real public employer: name, type, district, sectors, legal form, and for a
    municipal unit the short key of its industry authority (R3)."""

    name: str
    unit_type: UnitType
    district: str
    sectors: tuple[str, ...]
    form: str = PUBLIC_INSTITUTION
    authority: str = ""


def _u(
    name: str, unit_type: UnitType, district: str, sectors: str, form: str = "12", auth: str = ""
) -> UnitSpec:
    return UnitSpec(name, unit_type, district, tuple(sectors.split()), form, auth)


UNITS: tuple[UnitSpec, ...] = (
    # municipal hospitals and health bodies
    _u("首都医科大学附属北京友谊医院", M, "西城", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京朝阳医院", M, "朝阳", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京同仁医院", M, "东城", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京天坛医院", M, "丰台", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京安贞医院", M, "朝阳", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学宣武医院", M, "西城", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京世纪坛医院", M, "海淀", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京儿童医院", M, "西城", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京妇产医院", M, "东城", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京口腔医院", M, "东城", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京安定医院", M, "西城", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京佑安医院", M, "丰台", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京地坛医院", M, "朝阳", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京胸科医院", M, "通州", HEALTH, auth="市卫生健康委"),
    _u("首都医科大学附属北京中医医院", M, "东城", HEALTH, auth="市卫生健康委"),
    _u("北京积水潭医院", M, "西城", HEALTH, auth="市卫生健康委"),
    _u("北京老年医院", M, "海淀", HEALTH, auth="市卫生健康委"),
    _u("北京小汤山医院", M, "昌平", HEALTH, auth="市卫生健康委"),
    _u("北京回龙观医院", M, "昌平", HEALTH, auth="市卫生健康委"),
    _u("北京市疾病预防控制中心", M, "东城", HEALTH, auth="市卫生健康委"),
    _u("北京急救中心", M, "西城", HEALTH, auth="市卫生健康委"),
    _u("北京市药品检验研究院", M, "通州", f"{HEALTH} {RESEARCH}", auth="市卫生健康委"),
    # central hospitals in Beijing
    _u("中国医学科学院北京协和医院", C, "东城", HEALTH),
    _u("中国医学科学院阜外医院", C, "西城", HEALTH),
    _u("中国医学科学院肿瘤医院", C, "朝阳", HEALTH),
    _u("北京大学第一医院", C, "西城", HEALTH),
    _u("北京大学人民医院", C, "西城", HEALTH),
    _u("北京大学第三医院", C, "海淀", HEALTH),
    _u("中日友好医院", C, "朝阳", HEALTH),
    _u("北京医院", C, "东城", HEALTH),
    _u("中国中医科学院广安门医院", C, "西城", HEALTH),
    _u("中国中医科学院西苑医院", C, "海淀", HEALTH),
    # district hospitals
    _u("北京市海淀医院", D, "海淀", HEALTH),
    _u("北京市垂杨柳医院", D, "朝阳", HEALTH),
    _u("北京市丰台医院", D, "丰台", HEALTH),
    _u("北京市石景山医院", D, "石景山", HEALTH),
    _u("北京市门头沟区医院", D, "门头沟", HEALTH),
    _u("北京市房山区良乡医院", D, "房山", HEALTH),
    _u("首都医科大学附属北京潞河医院", D, "通州", HEALTH),
    _u("北京市顺义区医院", D, "顺义", HEALTH),
    _u("北京市昌平区医院", D, "昌平", HEALTH),
    _u("北京市大兴区人民医院", D, "大兴", HEALTH),
    _u("北京怀柔医院", D, "怀柔", HEALTH),
    _u("北京市平谷区医院", D, "平谷", HEALTH),
    _u("北京市密云区医院", D, "密云", HEALTH),
    _u("北京市延庆区医院", D, "延庆", HEALTH),
    _u("北京市普仁医院", D, "东城", HEALTH),
    _u("北京市第六医院", D, "东城", HEALTH),
    _u("北京市西城区展览路医院", D, "西城", HEALTH),
    # municipal universities
    _u("首都医科大学", M, "丰台", f"{UNIVERSITY} {HEALTH}", auth="市教委"),
    _u("首都师范大学", M, "海淀", UNIVERSITY, auth="市教委"),
    _u("北京工业大学", M, "朝阳", f"{UNIVERSITY} {RESEARCH}", auth="市教委"),
    _u("首都经济贸易大学", M, "丰台", f"{UNIVERSITY} {BUSINESS}", auth="市教委"),
    _u("北京联合大学", M, "朝阳", UNIVERSITY, auth="市教委"),
    _u("北京信息科技大学", M, "昌平", f"{UNIVERSITY} {IT}", auth="市教委"),
    _u("北京建筑大学", M, "西城", f"{UNIVERSITY} {CONSTRUCTION}", auth="市教委"),
    _u("北京农学院", M, "昌平", f"{UNIVERSITY} {AGRICULTURE}", auth="市教委"),
    _u("北京印刷学院", M, "大兴", f"{UNIVERSITY} {MEDIA}", auth="市教委"),
    _u("北京石油化工学院", M, "大兴", UNIVERSITY, auth="市教委"),
    _u("北京第二外国语学院", M, "朝阳", UNIVERSITY, auth="市教委"),
    _u("北京物资学院", M, "通州", f"{UNIVERSITY} {BUSINESS}", auth="市教委"),
    _u("首都体育学院", M, "海淀", UNIVERSITY, auth="市教委"),
    _u("北京电子科技职业学院", M, "大兴", f"{UNIVERSITY} {IT}", auth="市教委"),
    _u("北京财贸职业学院", M, "通州", f"{UNIVERSITY} {BUSINESS}", auth="市教委"),
    # central universities in Beijing
    _u("清华大学", C, "海淀", f"{UNIVERSITY} {RESEARCH}"),
    _u("北京大学", C, "海淀", f"{UNIVERSITY} {RESEARCH}"),
    _u("中国人民大学", C, "海淀", f"{UNIVERSITY} {BUSINESS}"),
    _u("北京师范大学", C, "海淀", UNIVERSITY),
    _u("北京航空航天大学", C, "海淀", f"{UNIVERSITY} {MANUFACTURING}"),
    _u("北京理工大学", C, "海淀", f"{UNIVERSITY} {MANUFACTURING}"),
    _u("中国农业大学", C, "海淀", f"{UNIVERSITY} {AGRICULTURE}"),
    _u("北京科技大学", C, "海淀", UNIVERSITY),
    _u("北京邮电大学", C, "海淀", f"{UNIVERSITY} {IT}"),
    _u("北京交通大学", C, "海淀", UNIVERSITY),
    _u("北京化工大学", C, "朝阳", UNIVERSITY),
    _u("北京林业大学", C, "海淀", f"{UNIVERSITY} {AGRICULTURE}"),
    _u("中央财经大学", C, "海淀", f"{UNIVERSITY} {BUSINESS}"),
    _u("对外经济贸易大学", C, "朝阳", f"{UNIVERSITY} {BUSINESS}"),
    _u("北京外国语大学", C, "海淀", f"{UNIVERSITY} {MEDIA}"),
    _u("中国传媒大学", C, "朝阳", f"{UNIVERSITY} {MEDIA}"),
    _u("北京中医药大学", C, "朝阳", f"{UNIVERSITY} {HEALTH}"),
    # private universities
    _u("北京城市学院", N, "海淀", UNIVERSITY),
    _u("北京吉利学院", N, "昌平", UNIVERSITY),
    # district schools
    _u("北京市第二中学", D, "东城", SCHOOL),
    _u("北京市第五中学", D, "东城", SCHOOL),
    _u("北京汇文中学", D, "东城", SCHOOL),
    _u("北京市第一六六中学", D, "东城", SCHOOL),
    _u("北京市东城区史家胡同小学", D, "东城", SCHOOL),
    _u("北京市第四中学", D, "西城", SCHOOL),
    _u("北京市第八中学", D, "西城", SCHOOL),
    _u("北京市第三十五中学", D, "西城", SCHOOL),
    _u("北京市第十三中学", D, "西城", SCHOOL),
    _u("北京小学", D, "西城", SCHOOL),
    _u("北京第二实验小学", D, "西城", SCHOOL),
    _u("北京市十一学校", D, "海淀", SCHOOL),
    _u("北京市第一〇一中学", D, "海淀", SCHOOL),
    _u("中国人民大学附属中学", D, "海淀", SCHOOL),
    _u("北京市海淀区中关村第一小学", D, "海淀", SCHOOL),
    _u("北京市海淀区教师进修学校", D, "海淀", SCHOOL),
    _u("北京市陈经纶中学", D, "朝阳", SCHOOL),
    _u("北京市第八十中学", D, "朝阳", SCHOOL),
    _u("北京市朝阳区实验小学", D, "朝阳", SCHOOL),
    _u("北京市第十二中学", D, "丰台", SCHOOL),
    _u("北京市第九中学", D, "石景山", SCHOOL),
    _u("北京市大峪中学", D, "门头沟", SCHOOL),
    _u("北京市房山区良乡中学", D, "房山", SCHOOL),
    _u("北京市潞河中学", D, "通州", SCHOOL),
    _u("北京市顺义区牛栏山第一中学", D, "顺义", SCHOOL),
    _u("北京市昌平区第一中学", D, "昌平", SCHOOL),
    _u("北京市大兴区第一中学", D, "大兴", SCHOOL),
    _u("北京市怀柔区第一中学", D, "怀柔", SCHOOL),
    _u("北京市平谷区第五中学", D, "平谷", SCHOOL),
    _u("北京市密云区第二中学", D, "密云", SCHOOL),
    _u("北京市延庆区第一中学", D, "延庆", SCHOOL),
    # research institutes
    _u("北京市农林科学院", M, "海淀", f"{RESEARCH} {AGRICULTURE}", auth="市农业农村局"),
    _u("北京市科学技术研究院", M, "海淀", RESEARCH, auth="市科委"),
    _u("北京市理化分析测试中心", M, "海淀", RESEARCH, auth="市科委"),
    _u("北京市环境保护科学研究院", M, "西城", RESEARCH, auth="市生态环境局"),
    _u("北京市社会科学院", M, "朝阳", f"{RESEARCH} {MEDIA}", auth="市科委"),
    _u("北京市水科学技术研究院", M, "海淀", f"{RESEARCH} {CONSTRUCTION}", auth="市水务局"),
    _u("北京市劳动保护科学研究所", M, "西城", RESEARCH, auth="市科委"),
    _u("北京市园林科学研究院", M, "朝阳", f"{RESEARCH} {AGRICULTURE}", auth="市园林绿化局"),
    _u("北京市测绘设计研究院", M, "海淀", CONSTRUCTION, auth="市规划自然资源委"),
    _u("中国科学院计算技术研究所", C, "海淀", f"{RESEARCH} {IT}"),
    _u("中国科学院物理研究所", C, "海淀", RESEARCH),
    _u("中国科学院化学研究所", C, "海淀", RESEARCH),
    _u("中国科学院自动化研究所", C, "海淀", f"{RESEARCH} {IT}"),
    _u("中国科学院微电子研究所", C, "朝阳", f"{RESEARCH} {IT}"),
    _u("中国科学院大气物理研究所", C, "朝阳", RESEARCH),
    _u("中国科学院地理科学与资源研究所", C, "朝阳", RESEARCH),
    _u("中国农业科学院作物科学研究所", C, "海淀", f"{RESEARCH} {AGRICULTURE}"),
    _u("中国信息通信研究院", C, "海淀", f"{RESEARCH} {IT}"),
    _u("中国电子科技集团公司第十五研究所", C, "海淀", f"{RESEARCH} {IT}"),
    # municipal state-owned enterprises
    _u("北京城建集团有限责任公司", M, "海淀", f"{CONSTRUCTION} {BUSINESS}", "91", "市国资委"),
    _u("北京建工集团有限责任公司", M, "西城", CONSTRUCTION, "91", "市国资委"),
    _u("北京住总集团有限责任公司", M, "朝阳", CONSTRUCTION, "91", "市国资委"),
    _u("北京市政路桥集团有限公司", M, "西城", CONSTRUCTION, "91", "市国资委"),
    _u("北京市建筑设计研究院股份有限公司", M, "西城", CONSTRUCTION, "91", "市国资委"),
    _u("北京市市政工程设计研究总院有限公司", M, "海淀", CONSTRUCTION, "91", "市国资委"),
    _u("北京市勘察设计研究院有限公司", M, "海淀", CONSTRUCTION, "91", "市住房城乡建设委"),
    _u("北京首都开发控股(集团)有限公司", M, "东城", f"{CONSTRUCTION} {BUSINESS}", "91", "市国资委"),
    _u("北京城市排水集团有限责任公司", M, "朝阳", CONSTRUCTION, "91", "市水务局"),
    _u("北京市自来水集团有限责任公司", M, "东城", CONSTRUCTION, "91", "市水务局"),
    _u("北京市轨道交通建设管理有限公司", M, "西城", CONSTRUCTION, "91", "市交通委"),
    _u(
        "北京公共交通控股(集团)有限公司", M, "丰台", f"{MANUFACTURING} {BUSINESS}", "91", "市交通委"
    ),
    _u("北京市地铁运营有限公司", M, "西城", f"{MANUFACTURING} {BUSINESS}", "91", "市交通委"),
    _u("北京电子控股有限责任公司", M, "朝阳", f"{IT} {BUSINESS}", "91", "市国资委"),
    _u("京东方科技集团股份有限公司", M, "朝阳", f"{IT} {MANUFACTURING}", "91", "市经济和信息化局"),
    _u("北京市计算中心有限公司", M, "海淀", IT, "91", "市经济和信息化局"),
    _u("北京市大数据中心", M, "西城", IT, auth="市经济和信息化局"),
    _u("北京汽车集团有限公司", M, "朝阳", MANUFACTURING, "91", "市国资委"),
    _u("首钢集团有限公司", M, "石景山", f"{MANUFACTURING} {BUSINESS}", "91", "市国资委"),
    _u("北京京城机电控股有限责任公司", M, "朝阳", MANUFACTURING, "91", "市国资委"),
    _u("北京一轻控股有限责任公司", M, "朝阳", MANUFACTURING, "91", "市国资委"),
    _u(
        "中国北京同仁堂(集团)有限责任公司", M, "东城", f"{MANUFACTURING} {HEALTH}", "91", "市国资委"
    ),
    _u("北京金隅集团股份有限公司", M, "东城", f"{MANUFACTURING} {CONSTRUCTION}", "91", "市国资委"),
    _u("北京能源集团有限责任公司", M, "朝阳", f"{MANUFACTURING} {BUSINESS}", "91", "市国资委"),
    _u("北京控股集团有限公司", M, "朝阳", BUSINESS, "91", "市国资委"),
    _u("北京首农食品集团有限公司", M, "西城", f"{AGRICULTURE} {BUSINESS}", "91", "市国资委"),
    _u("北京国有资本运营管理有限公司", M, "西城", BUSINESS, "91", "市国资委"),
    _u("北京银行股份有限公司", M, "西城", BUSINESS, "91", "市财政局"),
    _u("北京农村商业银行股份有限公司", M, "西城", BUSINESS, "91", "市财政局"),
    _u("北京首都创业集团有限公司", M, "东城", BUSINESS, "91", "市国资委"),
    _u("北京国际信托有限公司", M, "朝阳", BUSINESS, "91", "市财政局"),
    # central enterprises in Beijing
    _u("中国建筑设计研究院有限公司", C, "西城", CONSTRUCTION, "91"),
    _u("中国建筑科学研究院有限公司", C, "朝阳", f"{CONSTRUCTION} {RESEARCH}", "91"),
    _u("中国建筑一局(集团)有限公司", C, "丰台", CONSTRUCTION, "91"),
    _u("中铁建设集团有限公司", C, "海淀", CONSTRUCTION, "91"),
    _u("中国铁道科学研究院集团有限公司", C, "海淀", f"{RESEARCH} {MANUFACTURING}", "91"),
    _u("中国航天科工集团第二研究院", C, "海淀", f"{RESEARCH} {MANUFACTURING}"),
    _u("北京卫星制造厂有限公司", C, "海淀", MANUFACTURING, "91"),
    _u("北京北方车辆集团有限公司", C, "丰台", MANUFACTURING, "91"),
    _u("中国移动通信集团北京有限公司", C, "西城", f"{IT} {BUSINESS}", "91"),
    _u("中国联合网络通信有限公司北京市分公司", C, "西城", f"{IT} {BUSINESS}", "91"),
    _u("中国工商银行股份有限公司北京市分行", C, "西城", BUSINESS, "91"),
    _u("中国建设银行股份有限公司北京市分行", C, "西城", BUSINESS, "91"),
    # agriculture
    _u("北京市农业技术推广站", M, "朝阳", AGRICULTURE, auth="市农业农村局"),
    _u("北京市动物疫病预防控制中心", M, "海淀", AGRICULTURE, auth="市农业农村局"),
    _u("北京市种子管理站", M, "朝阳", AGRICULTURE, auth="市农业农村局"),
    _u("北京市植物保护站", M, "朝阳", AGRICULTURE, auth="市农业农村局"),
    # culture, archives, libraries, museums
    _u("首都图书馆", M, "朝阳", CULTURE, auth="市文化和旅游局"),
    _u("首都博物馆", M, "西城", CULTURE, auth="市文物局"),
    _u("北京市档案馆", M, "东城", CULTURE, auth="市档案局"),
    _u("北京市考古研究院", M, "丰台", f"{CULTURE} {RESEARCH}", auth="市文物局"),
    _u("北京市古代建筑研究所", M, "西城", CULTURE, auth="市文物局"),
    _u("北京艺术博物馆", M, "海淀", CULTURE, auth="市文物局"),
    _u("北京自然博物馆", M, "东城", CULTURE, auth="市文化和旅游局"),
    _u("北京天文馆", M, "西城", CULTURE, auth="市科委"),
    _u("中国国家博物馆", C, "东城", CULTURE),
    _u("国家图书馆", C, "海淀", CULTURE),
    _u("北京市西城区图书馆", D, "西城", CULTURE),
    _u("北京市朝阳区档案馆", D, "朝阳", CULTURE),
    _u("北京市海淀区博物馆", D, "海淀", CULTURE),
    _u("故宫博物院", C, "东城", f"{CULTURE} {RESEARCH}"),
    _u("中国第一历史档案馆", C, "西城", CULTURE),
    # press and publishing
    _u("北京出版集团有限责任公司", M, "西城", MEDIA, "91", "市新闻出版局"),
    _u("北京科学技术出版社有限公司", M, "西城", MEDIA, "91", "市新闻出版局"),
    _u("北京日报社", M, "朝阳", MEDIA, auth="市新闻出版局"),
    _u("北京青年报社", M, "朝阳", MEDIA, auth="市新闻出版局"),
    _u("北京广播电视台", M, "朝阳", MEDIA, auth="市广电局"),
    _u("人民出版社", C, "东城", MEDIA, "91"),
    _u("商务印书馆有限公司", C, "东城", MEDIA, "91"),
    _u("中华书局有限公司", C, "丰台", MEDIA, "91"),
    _u("高等教育出版社有限公司", C, "西城", MEDIA, "91"),
    _u("人民教育出版社有限公司", C, "海淀", MEDIA, "91"),
)

# District units generated per district: (name pattern, sectors). `{d}` = district.
DISTRICT_UNIT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("北京市{d}区中医医院", HEALTH),
    ("北京市{d}区实验小学", SCHOOL),
)
SUBURBAN_UNIT_PATTERNS: tuple[tuple[str, str], ...] = (("北京市{d}区农业技术推广站", AGRICULTURE),)
SUBURBAN_DISTRICTS = (
    "门头沟", "房山", "通州", "顺义", "昌平", "大兴", "怀柔", "平谷", "密云", "延庆",
)  # fmt: skip

# Invented private firms: trade name (字号) + business, by sector.
TRADE_NAMES = (
    "华信", "智源", "恒泰", "博远", "金桥", "京华", "宏图", "瑞景", "天润", "安和", "思创",
    "鼎盛", "弘毅", "明德", "远景", "星河", "嘉禾", "科锐", "泰和", "众合", "致远", "优联",
    "新锐", "汇智", "恒远", "华安", "北辰", "京科", "长青", "景行", "正和", "德信", "宇辰",
    "卓越", "联创", "启明", "云帆", "极光", "深蓝", "海纳", "清源", "润泽", "睿思", "精诚",
    "华章", "天衡", "信诚", "中和", "盛泰", "凌云", "博睿", "融智", "知行", "开元", "铭远",
)  # fmt: skip
PRIVATE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("北京{t}信息技术有限公司", IT),
    ("北京{t}科技有限公司", IT),
    ("北京{t}软件股份有限公司", IT),
    ("北京{t}智能科技有限公司", f"{IT} {MANUFACTURING}"),
    ("北京{t}数据科技有限公司", IT),
    ("北京{t}生物科技有限公司", f"{RESEARCH} {HEALTH}"),
    ("北京{t}医药科技有限公司", f"{HEALTH} {RESEARCH}"),
    ("北京{t}医院有限公司", HEALTH),
    ("北京{t}建筑设计有限公司", CONSTRUCTION),
    ("北京{t}工程咨询有限公司", f"{CONSTRUCTION} {BUSINESS}"),
    ("北京{t}建设工程有限公司", CONSTRUCTION),
    ("北京{t}精密机械有限公司", MANUFACTURING),
    ("北京{t}新材料科技有限公司", f"{MANUFACTURING} {RESEARCH}"),
    ("北京{t}会计师事务所(普通合伙)", BUSINESS),
    ("北京{t}税务师事务所有限公司", BUSINESS),
    ("北京{t}资产评估有限公司", BUSINESS),
    ("北京{t}人力资源服务有限公司", BUSINESS),
    ("北京{t}农业科技有限公司", AGRICULTURE),
    ("北京{t}文化传媒有限公司", MEDIA),
    ("北京{t}图书有限公司", MEDIA),
    ("北京市{t}学校", SCHOOL),
)
UNIT_COUNT = 300

# --- the 职称 system: series, specialties, titles ----------------------------------------

A, S, MID = Level.ASSOCIATE_SENIOR, Level.SENIOR, Level.INTERMEDIATE

# Title names (副高级, 正高级, 中级) by series; specialty overrides for 卫生技术.
TITLES: dict[str, tuple[str, str, str]] = {
    "高等学校教师": ("副教授", "教授", "讲师"),
    "卫生技术": ("副主任医师", "主任医师", "主治医师"),
    "工程技术": ("高级工程师", "正高级工程师", "工程师"),
    "自然科学研究": ("副研究员", "研究员", "助理研究员"),
    "中小学教师": ("高级教师", "正高级教师", "一级教师"),
    "会计": ("高级会计师", "正高级会计师", "会计师"),
    "经济": ("高级经济师", "正高级经济师", "经济师"),
    "统计": ("高级统计师", "正高级统计师", "统计师"),
    "出版": ("副编审", "编审", "编辑"),
    "新闻": ("主任编辑", "高级编辑", "编辑"),
    "农业技术": ("高级农艺师", "农业技术推广研究员", "农艺师"),
    "图书资料": ("副研究馆员", "研究馆员", "馆员"),
    "文物博物": ("副研究馆员", "研究馆员", "馆员"),
    "档案": ("副研究馆员", "研究馆员", "馆员"),
    "翻译": ("副译审", "译审", "翻译"),
    "实验技术": ("高级实验师", "正高级实验师", "实验师"),
}
SPECIALTY_TITLES: dict[tuple[str, str], tuple[str, str, str]] = {
    ("卫生技术", "护理"): ("副主任护师", "主任护师", "主管护师"),
    ("卫生技术", "药学"): ("副主任药师", "主任药师", "主管药师"),
    ("卫生技术", "医学技术"): ("副主任技师", "主任技师", "主管技师"),
    ("农业技术", "畜牧兽医"): ("高级兽医师", "农业技术推广研究员", "兽医师"),
    ("农业技术", "农业工程"): ("高级农业工程师", "农业技术推广研究员", "农业工程师"),
}


def title_for(series: str, specialty: str, level: Level) -> str:
    associate, senior, intermediate = SPECIALTY_TITLES.get((series, specialty), TITLES[series])
    return {A: associate, S: senior, MID: intermediate}[level]


# Research fields shown on an expert's profile, by specialty.
FIELDS: dict[str, tuple[str, ...]] = {
    "临床医学": ("心血管内科", "呼吸与危重症医学", "普通外科", "神经内科", "肿瘤内科",
                 "儿科", "骨科", "消化内科", "内分泌科", "麻醉科", "急诊医学", "眼科"),
    "护理": ("临床护理", "护理管理", "重症监护护理", "手术室护理", "社区护理"),
    "药学": ("临床药学", "医院药事管理", "药物分析"),
    "中医": ("中医内科", "针灸推拿", "中西医结合", "中医骨伤"),
    "医学技术": ("医学影像技术", "医学检验", "康复治疗"),
    "公共卫生": ("传染病防控", "慢性病防控", "环境卫生", "卫生检验"),
    "理工": ("材料科学", "计算机科学", "环境工程", "应用物理"),
    "人文社科": ("公共管理", "汉语言文学", "马克思主义理论", "经济学"),
    "医学": ("基础医学", "临床医学", "公共卫生与预防医学"),
    "工学": ("机械工程", "土木工程", "控制科学与工程", "计算机科学与技术"),
    "中学": ("中学语文", "中学数学", "中学英语", "中学物理", "中学化学", "中学历史"),
    "小学": ("小学语文", "小学数学", "小学英语", "小学科学", "小学道德与法治"),
    "建筑工程": ("结构设计", "施工管理", "建筑设计", "岩土工程", "工程监理"),
    "市政工程": ("道路桥梁", "给水排水", "燃气热力", "轨道交通"),
    "电子信息": ("集成电路设计", "通信系统", "嵌入式系统", "网络安全"),
    "计算机与软件": ("软件工程", "人工智能", "数据库", "云计算", "信息安全"),
    "通信工程": ("移动通信", "光通信", "卫星通信"),
    "机械工程": ("机械设计", "智能制造", "汽车工程", "精密加工"),
    "测绘": ("工程测量", "地理信息系统", "遥感"),
    "农学": ("作物栽培", "植物保护", "设施园艺", "土壤肥料"),
    "畜牧兽医": ("动物疫病防控", "畜牧养殖", "兽医临床"),
    "农业工程": ("农业机械化", "设施农业工程"),
}  # fmt: skip

# --- institutions and committees ------------------------------------------------------

IA, DB = InstitutionKind.INDUSTRY_AUTHORITY, InstitutionKind.DISTRICT_BUREAU
TS, AS, EM = InstitutionKind.TALENT_SERVICE, InstitutionKind.ASSOCIATION, InstitutionKind.EMPLOYER


@dataclass(frozen=True)
class InstitutionSpec:
    """A 评审机构: `unit` names its employer unit (kind employer), `profile` the Art. 10
    introduction's middle sentence, `staff` its full-time staff."""

    name: str
    short: str
    kind: InstitutionKind
    district: str
    profile: str
    staff: int
    unit: str = ""


# fmt: off
INSTITUTIONS: tuple[InstitutionSpec, ...] = (
    InstitutionSpec("北京市卫生健康委员会", "市卫生健康委", IA, "通州",
                    "负责全市卫生健康行业专业技术人才队伍建设,多年组织卫生系列职称评审", 12),
    InstitutionSpec("北京市教育委员会", "市教委", IA, "通州",
                    "统筹全市高等学校和中小学教师队伍建设,具备丰富的教师职称评审组织经验", 10),
    InstitutionSpec("北京市住房和城乡建设委员会", "市住房城乡建设委", IA, "通州",
                    "主管全市建筑业和城乡建设领域,熟悉建设工程专业技术人才评价标准", 8),
    InstitutionSpec("北京市经济和信息化局", "市经济和信息化局", IA, "通州",
                    "负责全市工业和信息化领域产业发展,联系大批电子信息与装备制造企业", 8),
    InstitutionSpec("北京市农业农村局", "市农业农村局", IA, "通州",
                    "主管全市农业农村工作,长期组织农业技术推广人员职称评价", 6),
    InstitutionSpec("北京市文化和旅游局", "市文化和旅游局", IA, "通州",
                    "联系全市公共图书馆、博物馆和档案机构,承担文博图档专业人才评价", 6),
    InstitutionSpec("北京市海淀区人力资源和社会保障局", "海淀区人力社保局", DB, "海淀",
                    "服务中关村核心区各类用人单位,辖区专业技术人才总量居全市前列", 7),
    InstitutionSpec("北京市朝阳区人力资源和社会保障局", "朝阳区人力社保局", DB, "朝阳",
                    "服务朝阳区商务中心区、教育和卫生系统等各类用人单位", 6),
    InstitutionSpec("北京市通州区人力资源和社会保障局", "通州区人力社保局", DB, "通州",
                    "服务城市副中心建设,承接区内教育和工程建设领域人才评价需求", 5),
    InstitutionSpec("北京市人才服务中心", "市人才服务中心", TS, "西城",
                    "承担全市非公有制经济组织和社会组织专业技术人才的职称评价服务", 9),
    InstitutionSpec("中关村人才发展服务中心", "中关村人才中心", TS, "海淀",
                    "面向中关村示范区高新技术企业,提供人才评价与发展服务", 7),
    InstitutionSpec("北京市海外学人中心", "市海外学人中心", TS, "东城",
                    "服务留学回国人员和外籍专业技术人才,组织开展相关专业评价", 5),
    InstitutionSpec("北京电子学会", "北京电子学会", AS, "海淀",
                    "由全市电子信息领域科技工作者组成的学术性社会团体,会员逾万人", 6),
    InstitutionSpec("北京机械工程学会", "北京机械工程学会", AS, "朝阳",
                    "汇聚首都机械工程领域专家学者,长期开展学术交流与人才评价", 5),
    InstitutionSpec("北京土木建筑学会", "北京土木建筑学会", AS, "西城",
                    "由首都土木建筑领域科技工作者组成,会员单位覆盖设计、施工和科研机构", 5),
    InstitutionSpec("北京护理学会", "北京护理学会", AS, "东城",
                    "由全市护理工作者组成的学术团体,承担护理人才培养和继续教育", 4),
    InstitutionSpec("北京出版工作者协会", "北京出版工作者协会", AS, "西城",
                    "联系首都出版单位和出版专业技术人员,开展行业培训与评价", 4),
    InstitutionSpec("首都医科大学", "首都医科大学", EM, "丰台",
                    "市属医学院校,附属医院众多,具备完善的教师和卫生专业技术人员评价体系", 8,
                    unit="首都医科大学"),
    InstitutionSpec("北京工业大学", "北京工业大学", EM, "朝阳",
                    "市属多科性研究型大学,按照自主评聘要求建立了教师职称评价制度", 7,
                    unit="北京工业大学"),
    InstitutionSpec("北京城建集团有限责任公司", "北京城建集团", EM, "海淀",
                    "市属大型建筑企业集团,专业技术人员逾万人,具备自主评价能力", 6,
                    unit="北京城建集团有限责任公司"),
)
# fmt: on

# Filing status of each institution, by position in INSTITUTIONS (the rest are filed).
INSTITUTION_STATUS_OVERRIDES: dict[int, str] = {
    8: "submitted",
    11: "expired",
    14: "suspended",
    15: "draft",
}


@dataclass(frozen=True)
class CommitteeSpec:
    """A 评委会: its institution (position in INSTITUTIONS), series, specialty, level and
    the unit sectors its experts and applicants come from."""

    institution: int
    series: str
    specialty: str
    level: Level
    sectors: tuple[str, ...]


def _c(inst: int, series: str, specialty: str, level: Level, sectors: str) -> CommitteeSpec:
    return CommitteeSpec(inst, series, specialty, level, tuple(sectors.split()))


_HS, _UR, _RS = HEALTH, f"{UNIVERSITY} {RESEARCH}", RESEARCH
COMMITTEES: tuple[CommitteeSpec, ...] = (
    _c(0, "卫生技术", "临床医学", S, _HS),
    _c(0, "卫生技术", "临床医学", A, _HS),
    _c(0, "卫生技术", "护理", A, _HS),
    _c(0, "卫生技术", "药学", A, _HS),
    _c(0, "卫生技术", "中医", S, _HS),
    _c(0, "卫生技术", "医学技术", A, _HS),
    _c(0, "卫生技术", "公共卫生", A, _HS),
    _c(1, "高等学校教师", "理工", S, UNIVERSITY),
    _c(1, "高等学校教师", "人文社科", S, UNIVERSITY),
    _c(1, "中小学教师", "中学", S, SCHOOL),
    _c(1, "中小学教师", "小学", S, SCHOOL),
    _c(1, "实验技术", "实验技术", A, _UR),
    _c(2, "工程技术", "建筑工程", S, CONSTRUCTION),
    _c(2, "工程技术", "建筑工程", A, CONSTRUCTION),
    _c(2, "工程技术", "市政工程", A, CONSTRUCTION),
    _c(2, "工程技术", "建筑工程", MID, CONSTRUCTION),
    _c(3, "工程技术", "电子信息", S, IT),
    _c(3, "工程技术", "电子信息", A, IT),
    _c(3, "工程技术", "计算机与软件", A, IT),
    _c(3, "工程技术", "机械工程", A, MANUFACTURING),
    _c(4, "农业技术", "农学", A, AGRICULTURE),
    _c(4, "农业技术", "畜牧兽医", A, AGRICULTURE),
    _c(4, "农业技术", "农业工程", MID, AGRICULTURE),
    _c(5, "文物博物", "文物博物", A, CULTURE),
    _c(5, "图书资料", "图书资料", A, CULTURE),
    _c(5, "档案", "档案", A, CULTURE),
    _c(6, "中小学教师", "中学", A, SCHOOL),
    _c(6, "工程技术", "计算机与软件", MID, IT),
    _c(6, "经济", "人力资源管理", MID, BUSINESS),
    _c(7, "中小学教师", "小学", A, SCHOOL),
    _c(7, "经济", "工商管理", MID, BUSINESS),
    _c(8, "中小学教师", "中学", A, SCHOOL),
    _c(8, "工程技术", "建筑工程", MID, CONSTRUCTION),
    _c(9, "经济", "人力资源管理", A, BUSINESS),
    _c(9, "经济", "金融", A, BUSINESS),
    _c(9, "会计", "会计", A, BUSINESS),
    _c(9, "统计", "统计", A, BUSINESS),
    _c(10, "工程技术", "电子信息", A, IT),
    _c(10, "自然科学研究", "自然科学研究", A, _RS),
    _c(10, "经济", "知识产权", A, f"{BUSINESS} {IT}"),
    _c(11, "翻译", "翻译", A, f"{UNIVERSITY} {MEDIA}"),
    _c(11, "自然科学研究", "自然科学研究", S, _RS),
    _c(12, "工程技术", "电子信息", MID, IT),
    _c(12, "工程技术", "通信工程", A, IT),
    _c(13, "工程技术", "机械工程", S, MANUFACTURING),
    _c(13, "工程技术", "机械工程", MID, MANUFACTURING),
    _c(14, "工程技术", "建筑工程", A, CONSTRUCTION),
    _c(14, "工程技术", "测绘", A, CONSTRUCTION),
    _c(15, "卫生技术", "护理", MID, _HS),
    _c(15, "卫生技术", "护理", S, _HS),
    _c(16, "出版", "编辑", S, MEDIA),
    _c(16, "出版", "编辑", A, MEDIA),
    _c(16, "新闻", "新闻采编", A, MEDIA),
    _c(17, "高等学校教师", "医学", S, f"{UNIVERSITY} {HEALTH}"),
    _c(17, "卫生技术", "临床医学", A, _HS),
    _c(18, "高等学校教师", "工学", S, UNIVERSITY),
    _c(18, "高等学校教师", "工学", A, UNIVERSITY),
    _c(18, "实验技术", "实验技术", A, _UR),
    _c(19, "工程技术", "建筑工程", A, CONSTRUCTION),
    _c(19, "经济", "工商管理", A, BUSINESS),
)

# --- fixed texts ---------------------------------------------------------------------------

AGREEMENT_TEXT = """北京市职称评审专家保密协议(2023年版)

一、专家应严格遵守职称评审工作纪律,不得泄露评审专家名单、评审意见、投票情况等
尚未公开的评审信息。
二、专家不得私自接收申报人材料,不得接受申报人或其所在单位的宴请、礼品礼金等。
三、专家与申报人存在近亲属关系、利害关系或其他可能影响公正评审的关系时,应主动申请回避。
四、专家应参加评审机构组织的评前培训,按照评审标准独立、客观、公正地发表意见。
五、违反本协议的,由评审机构视情节给予提醒、通报、调出专家库等处理,并记入专家诚信档案。
"""

COMPLAINT_FACTS: dict[str, tuple[str, ...]] = {
    "review_request": (
        "本人参加了本年度评审,对评审结果不服。申请复查评审程序是否合规、专家投票计票是否准确。",
        "本人申报材料完整、业绩符合条件,但未通过评审,怀疑计票存在漏计,申请复查。",
        "评审结果公示后发现本人得票数与现场情况不符,申请核查投票记录。",
    ),
    "complaint": (
        "评审机构受理申报材料时未一次性告知需补正的全部内容,导致本人多次往返。",
        "评审会议延期未提前通知申报人,评审机构工作人员答复不及时。",
        "评委会专家在评审前私下联系申报人,涉嫌违反评审纪律。",
        "评审机构公布的评审实施方案与实际执行的量化标准不一致。",
    ),
    "report": (
        "有申报人论文存在抄袭嫌疑,附相关比对线索,请核查其评审通过资格。",
        "某专家与本单位申报人存在利害关系,评审时未主动申请回避。",
        "有评审机构收取申报人评审费用以外的费用,附缴费凭证。",
        "有申报人伪造业绩证明材料,附项目合同编号供查证。",
    ),
}
COMPLAINT_ANSWER = (
    "经调取评审会议录音录像、核对专家投票记录,评审程序符合规定,计票准确无误。"
    "现将核查情况答复如下,如仍有异议可向市人力资源社会保障局反映。"
)
