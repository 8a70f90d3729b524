"""The one role model of every contract.

Accounts have one of three roles (the `users.role` column): `user`, `creator`, `admin` (CLUTCH's
words). The other contracts name the same roles in their own words:

| role      | CLUTCH  | OpenCourse    | may                                                    |
| --------- | ------- | ------------- | ------------------------------------------------------ |
| `user`    | user    | student       | watch, comment, like, follow, enroll                   |
| `creator` | creator | instructor    | all of the above, and publish videos and courses       |
| `admin`   | admin   | administrator | everything, on anyone's content; change users' roles   |

OnStream's `is_admin` and the torrent app's admin are `role == "admin"`. OpenCourse's endpoints
show roles in OpenCourse's words (`course_role`); role inputs accept either vocabulary.
"""

from __future__ import annotations

from typing import Literal

ROLES = ("user", "creator", "admin")
Role = Literal["user", "creator", "admin"]
CourseRole = Literal["student", "instructor", "administrator"]
# Either vocabulary, as a role input accepts it.
AnyRoleName = Literal["user", "creator", "admin", "student", "instructor", "administrator"]

ADMIN = "admin"
PUBLISHERS = frozenset({"creator", "admin"})

_COURSE_NAMES: dict[str, CourseRole] = {
    "user": "student",
    "creator": "instructor",
    "admin": "administrator",
}
_FROM_COURSE_NAMES: dict[str, Role] = {
    "student": "user",
    "instructor": "creator",
    "administrator": "admin",
}


def course_role(role: str) -> CourseRole:
    """The role in OpenCourse's words."""
    return _COURSE_NAMES[role]


def parse_role(name: str) -> Role:
    """A role named in either vocabulary, as stored (ValueError for anything else)."""
    if name in _FROM_COURSE_NAMES:
        return _FROM_COURSE_NAMES[name]
    if name in _COURSE_NAMES:
        return name  # type: ignore[return-value]
    raise ValueError(f"unknown role {name!r}")
