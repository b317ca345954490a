"""The domain enums of models/enums.py as GraphQL enums (member names are the values)."""

import strawberry

from models.enums import (
    ExpertStatus,
    FilingStatus,
    Gender,
    InstitutionKind,
    Level,
    PlanStatus,
    Role,
    Seat,
    UnitType,
)
from resolvers.directory import AnnualPlanOrder, CommitteeOrder, ExpertOrder, InstitutionOrder

strawberry.enum(InstitutionKind, description="评审机构类别(第二条)。\nInstitution kind.")
strawberry.enum(
    FilingStatus,
    description="备案状态:草稿、已提交、已备案、未通过、已过期、已暂停、已撤销(第十二条)。\n"
    "Filing status.",
)
strawberry.enum(
    Level,
    description="职称层级:初级(员级)、初级(助理级)、中级、副高级、正高级。\nTitle level.",
)
strawberry.enum(PlanStatus, description="年度实施方案状态:草稿或已发布。\nPlan status.")
strawberry.enum(
    ExpertStatus,
    description="专家状态:已申请、机构已审核、在库、暂停、未通过、已退出。\nExpert status.",
)
strawberry.enum(Gender, description="性别。\nGender.")
strawberry.enum(
    UnitType, description="所在单位类型:市属、区属、中央在京、非公(第十五条)。\nUnit type."
)
strawberry.enum(Seat, description="评委会席位:主任委员、副主任委员、委员。\nCommittee seat.")
strawberry.enum(Role, description="用户角色。\nRole.")

strawberry.enum(
    InstitutionOrder,
    name="InstitutionOrderBy",
    description="评审机构列表排序方式。\nInstitution ordering.",
)
strawberry.enum(
    CommitteeOrder, name="CommitteeOrderBy", description="评委会列表排序方式。\nCommittee ordering."
)
strawberry.enum(
    AnnualPlanOrder,
    name="AnnualPlanOrderBy",
    description="年度实施方案列表排序方式。\nAnnual plan ordering.",
)
strawberry.enum(
    ExpertOrder, name="ExpertOrderBy", description="专家列表排序方式。\nExpert ordering."
)
