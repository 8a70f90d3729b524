"""Comments as CLUTCH's "Comment Model Structure" and "Comment Endpoints" write them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, RootModel, StringConstraints

from server.http.models import RequestModel, text_schema, trim_not_blank
from server.http.pagination import PageQuery, Pagination
from storage.social.comments import Comment

Content = Annotated[
    str,
    StringConstraints(max_length=1000),
    AfterValidator(trim_not_blank),
    text_schema(1000, not_blank=True),
]


class CommentListQuery(PageQuery):
    sort: Literal["newest", "oldest", "top"] = "newest"


class CommentCreate(RequestModel):
    content: Content
    parent_comment_id: uuid.UUID | None = Field(default=None, description="Set to reply")


class CommentEdit(RequestModel):
    content: Content


class CommentAuthorOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    avatar_url: str
    verified: bool


class UserInteraction(BaseModel):
    liked: bool
    disliked: bool


class CommentOut(BaseModel):
    id: uuid.UUID
    video_id: uuid.UUID
    user_id: uuid.UUID
    parent_comment_id: uuid.UUID | None
    content: str = Field(description="Empty when the comment was deleted but has replies")
    like_count: int
    dislike_count: int
    reply_count: int
    created_at: datetime
    updated_at: datetime
    edited: bool
    deleted: bool = Field(description="Deleted, kept in place because it has replies")
    author: CommentAuthorOut
    user_interaction: UserInteraction

    @classmethod
    def of(cls, comment: Comment, *, for_everyone: bool = False) -> CommentOut:
        """The comment as its viewer sees it; `for_everyone` (events) shows no interaction."""
        return cls(
            id=comment.id,
            video_id=comment.video_id,
            user_id=comment.user_id,
            parent_comment_id=comment.parent_comment_id,
            content=comment.content,
            like_count=comment.like_count,
            dislike_count=comment.dislike_count,
            reply_count=comment.reply_count,
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            edited=comment.edited,
            deleted=comment.deleted,
            author=CommentAuthorOut.model_validate(comment.author, from_attributes=True),
            user_interaction=UserInteraction(
                liked=comment.liked and not for_everyone,
                disliked=comment.disliked and not for_everyone,
            ),
        )


class CommentList(BaseModel):
    comments: list[CommentOut]
    pagination: Pagination


class ReplyList(RootModel[list[CommentOut]]):
    """CLUTCH's "Array of reply comments": a bare array, its pagination in headers."""
