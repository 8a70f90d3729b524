"""The rules of comments: a comment is visible when its video is, its author edits it, its
author, the video's author or an admin deletes it; every change publishes its event and the
video's new counters after the commit."""

from __future__ import annotations

import uuid

import asyncpg

from core.errors import Forbidden, NotFound
from core.paging import Slice, Window
from core.tokens import AccessClaims
from handlers.social.events import SocialEvents
from handlers.videos.service import VideoService, Viewer, caller_id
from storage.social import comments
from storage.social.comments import Comment
from storage.videos import likes
from storage.videos.likes import Action, CommentReaction


class CommentService:
    def __init__(self, *, db: asyncpg.Pool, videos: VideoService, events: SocialEvents) -> None:
        self.db = db
        self.videos = videos
        self.events = events

    async def visible(self, comment_id: uuid.UUID, viewer: Viewer) -> Comment:
        """The comment if `viewer` may see its video (NOT_FOUND otherwise)."""
        comment = await comments.get(self.db, comment_id, viewer=caller_id(viewer))
        try:
            await self.videos.visible(comment.video_id, viewer)
        except NotFound:
            raise NotFound("Comment not found") from None
        return comment

    async def thread(
        self,
        video_id: uuid.UUID,
        *,
        viewer: Viewer,
        sort: comments.CommentSort,
        window: Window,
    ) -> tuple[Slice[Comment], int]:
        """Top-level comments of a video `viewer` may see, with `viewer`'s reactions."""
        video = await self.videos.visible(video_id, viewer)
        return await comments.list_for_video(
            self.db, video.id, viewer=caller_id(viewer), sort=sort, window=window
        )

    async def replies(
        self, comment_id: uuid.UUID, *, viewer: Viewer, window: Window
    ) -> tuple[Slice[Comment], int]:
        """Direct replies to a comment `viewer` may see, oldest first."""
        parent = await self.visible(comment_id, viewer)
        return await comments.list_replies(
            self.db, parent.id, viewer=caller_id(viewer), window=window
        )

    async def create(
        self,
        video_id: uuid.UUID,
        *,
        author: AccessClaims,
        content: str,
        parent_id: uuid.UUID | None,
    ) -> Comment:
        video = await self.videos.visible(video_id, author)
        comment = await comments.create(
            self.db,
            video_id=video.id,
            user_id=uuid.UUID(author.user_id),
            content=content,
            parent_id=parent_id,
        )
        await self.events.comment("new_comment", comment)
        await self.videos.publish_counts(video.id)
        return comment

    async def edit(self, comment_id: uuid.UUID, *, editor: AccessClaims, content: str) -> Comment:
        comment = await self.visible(comment_id, editor)
        if comment.user_id != caller_id(editor):
            raise Forbidden("Only the author can edit a comment")
        if comment.deleted:
            raise NotFound("Comment not found")
        edited = await comments.edit(self.db, comment.id, content=content, viewer=caller_id(editor))
        await self.events.comment("comment_updated", edited)
        return edited

    async def delete(self, comment_id: uuid.UUID, *, editor: AccessClaims) -> None:
        comment = await self.visible(comment_id, editor)
        if comment.deleted:
            raise NotFound("Comment not found")
        video = await self.videos.visible(comment.video_id, editor)
        me = caller_id(editor)
        if me not in (comment.user_id, video.author.id) and editor.role != "admin":
            raise Forbidden(
                "Only the comment's author, the video's author or an admin can delete it"
            )
        await comments.delete(self.db, comment.id, video_id=comment.video_id)
        await self.events.comment_deleted(comment.video_id, comment.id)
        await self.videos.publish_counts(comment.video_id)

    async def react(
        self, comment_id: uuid.UUID, *, viewer: AccessClaims, action: Action
    ) -> CommentReaction:
        """Like, dislike or remove `viewer`'s reaction to a comment (idempotent)."""
        comment = await self.visible(comment_id, viewer)
        reaction = await likes.react_to_comment(
            self.db, user_id=uuid.UUID(viewer.user_id), comment_id=comment.id, action=action
        )
        await self.events.comment("comment_updated", await comments.get(self.db, comment.id))
        return reaction
