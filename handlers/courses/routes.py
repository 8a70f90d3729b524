"""OpenCourse over HTTP: courses, enrollment and a course's students (`/api/v1/courses...`).

Every path is declared under `/api/` and served under `/api/v1/` as well (server/http/routing).
"""

from __future__ import annotations

from aiohttp import web

from core.roles import PUBLISHERS
from core.tokens import AccessClaims
from handlers.courses.models import (
    CourseCreate,
    CourseList,
    CourseListQuery,
    CourseOut,
    CourseResponse,
    CourseUpdate,
    EnrollmentResponse,
    StudentList,
    StudentOut,
)
from handlers.courses.service import CourseService, CourseView
from server.http.models import SuccessMessage
from server.http.pagination import PageNumberQuery, Pagination
from server.http.routing import Auth, Router, path_uuid
from storage.courses.courses import Course
from storage.courses.enrollments import Change, Outcome

# This app's course service, set by the composition root.
SERVICE = web.AppKey("courses", CourseService)

routes = Router("courses")


def _service(request: web.Request) -> CourseService:
    return request.app[SERVICE]


def _out(course: Course, is_enrolled: bool | None = None) -> CourseOut:
    return CourseOut.model_validate(
        {**{f: getattr(course, f) for f in course.__slots__}, "is_enrolled": is_enrolled},
        from_attributes=True,
    )


def _view(view: CourseView) -> CourseResponse:
    return CourseResponse(course=_out(view.course, view.is_enrolled))


@routes.get(
    "/api/courses",
    query=CourseListQuery,
    response=CourseList,
    auth=Auth.optional,
    errors=(400, 401),
    summary="Courses: search, filter by instructor, level or tag, sort; drafts on request",
)
async def list_courses(
    request: web.Request, *, user: AccessClaims | None, query: CourseListQuery
) -> CourseList:
    found, total = await _service(request).list_courses(
        user,
        q=query.q,
        instructor_id=query.instructor,
        level=query.level,
        tag=query.tag,
        status=query.status,
        sort=query.sort,
        limit=query.limit,
        offset=(query.page - 1) * query.limit,
    )
    return CourseList(
        courses=[_out(course) for course in found],
        pagination=Pagination.of(query, total),
    )


@routes.post(
    "/api/courses",
    body=CourseCreate,
    response=CourseResponse,
    status=201,
    auth=Auth.required,
    roles=PUBLISHERS,
    errors=(400, 401, 403),
    summary="Create a course (instructors and administrators)",
)
async def create_course(
    request: web.Request, *, user: AccessClaims, body: CourseCreate
) -> CourseResponse:
    course = await _service(request).create(user, body.model_dump())
    return CourseResponse(course=_out(course, False))


@routes.get(
    "/api/courses/{course_id}",
    response=CourseResponse,
    auth=Auth.optional,
    errors=(400, 401, 404),
    summary="A course (a draft only for its instructor and administrators)",
)
async def get_course(request: web.Request, *, user: AccessClaims | None) -> CourseResponse:
    return _view(await _service(request).get(path_uuid(request, "course_id"), user))


async def _update(request: web.Request, user: AccessClaims, body: CourseUpdate) -> CourseResponse:
    course_id = path_uuid(request, "course_id")
    await _service(request).update(course_id, user, body.changes())
    return _view(await _service(request).get(course_id, user))


_UPDATE_SPEC = {
    "body": CourseUpdate,
    "response": CourseResponse,
    "auth": Auth.required,
    "errors": (400, 401, 403, 404, 409),
}


@routes.put(
    "/api/courses/{course_id}",
    summary="Change a course (its instructor or an administrator); fields not sent are kept",
    **_UPDATE_SPEC,
)
async def put_course(
    request: web.Request, *, user: AccessClaims, body: CourseUpdate
) -> CourseResponse:
    return await _update(request, user, body)


@routes.patch("/api/courses/{course_id}", summary="Same as PUT", **_UPDATE_SPEC)
async def patch_course(
    request: web.Request, *, user: AccessClaims, body: CourseUpdate
) -> CourseResponse:
    return await _update(request, user, body)


@routes.delete(
    "/api/courses/{course_id}",
    response=SuccessMessage,
    auth=Auth.required,
    errors=(400, 401, 403, 404),
    summary="Delete a course and its enrollments (its instructor or an administrator)",
)
async def delete_course(request: web.Request, *, user: AccessClaims) -> SuccessMessage:
    await _service(request).delete(path_uuid(request, "course_id"), user)
    return SuccessMessage(message="Course deleted")


_MESSAGES = {
    Outcome.enrolled: "Enrolled",
    Outcome.already: "Already enrolled",
    Outcome.left: "Unenrolled",
    Outcome.not_enrolled: "Not enrolled",
}


def _enrollment(change: Change) -> EnrollmentResponse:
    return EnrollmentResponse(
        enrolled=change.outcome in (Outcome.enrolled, Outcome.already),
        enrollment_count=change.enrollment_count,
        enrolled_at=change.enrolled_at,
        message=_MESSAGES[change.outcome],
    )


@routes.post(
    "/api/courses/{course_id}/enroll",
    response=EnrollmentResponse,
    auth=Auth.required,
    errors=(400, 401, 403, 404, 409),
    summary="Enroll in a published course; again changes nothing. Full: 409",
)
async def enroll(request: web.Request, *, user: AccessClaims) -> EnrollmentResponse:
    return _enrollment(await _service(request).enroll(path_uuid(request, "course_id"), user))


@routes.delete(
    "/api/courses/{course_id}/enroll",
    response=EnrollmentResponse,
    auth=Auth.required,
    errors=(400, 401, 404),
    summary="Leave a course; when not enrolled, changes nothing",
)
async def unenroll(request: web.Request, *, user: AccessClaims) -> EnrollmentResponse:
    return _enrollment(await _service(request).unenroll(path_uuid(request, "course_id"), user))


@routes.get(
    "/api/courses/{course_id}/students",
    query=PageNumberQuery,
    response=StudentList,
    auth=Auth.required,
    errors=(400, 401, 403, 404),
    summary="A course's students, latest first (its instructor and administrators)",
)
async def students(
    request: web.Request, *, user: AccessClaims, query: PageNumberQuery
) -> StudentList:
    found, total = await _service(request).students(
        path_uuid(request, "course_id"),
        user,
        limit=query.limit,
        offset=(query.page - 1) * query.limit,
    )
    return StudentList(
        students=[StudentOut.model_validate(s, from_attributes=True) for s in found],
        pagination=Pagination.of(query, total),
    )
