-- OpenCourse: courses and enrollments.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE courses (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    instructor_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title             text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description       text NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    level             text NOT NULL CHECK (level IN ('beginner', 'intermediate', 'advanced')),
    tags              text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20),
    published         boolean NOT NULL DEFAULT false,
    -- NULL: no limit. Kept at or above enrollment_count by the service (409 otherwise).
    capacity          integer CHECK (capacity IS NULL OR capacity BETWEEN 1 AND 1000000),
    -- Students enrolled, moved in the same transaction as the enrollments rows.
    enrollment_count  integer NOT NULL DEFAULT 0 CHECK (enrollment_count >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    published_at      timestamptz
);

-- Lists: published courses by newest, popularity, title; an instructor's own.
CREATE INDEX courses_newest_idx ON courses (created_at DESC, id DESC) WHERE published;
CREATE INDEX courses_popular_idx ON courses (enrollment_count DESC, id DESC) WHERE published;
CREATE INDEX courses_title_idx ON courses (lower(title), id) WHERE published;
CREATE INDEX courses_instructor_idx ON courses (instructor_id, created_at DESC);
CREATE INDEX courses_tags_idx ON courses USING gin (tags);
-- Substring search on title and description (`q`), case-insensitive.
CREATE INDEX courses_search_idx ON courses
    USING gin ((lower(title) || ' ' || lower(description)) gin_trgm_ops);

-- One row per person in a course. `role` is 'student' for now; it is here so a course can
-- later carry per-course staff (Open edX's course roles) without a new table.
CREATE TABLE enrollments (
    course_id    uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         text NOT NULL DEFAULT 'student' CHECK (role IN ('student')),
    enrolled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (course_id, user_id)
);
CREATE INDEX enrollments_user_idx ON enrollments (user_id, enrolled_at DESC);
CREATE INDEX enrollments_course_idx ON enrollments (course_id, enrolled_at DESC, user_id);
