-- Every collection's records: JSONB for the record, columns and indexes for what is looked up.
CREATE TABLE records (
    collection text NOT NULL,
    id text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,  -- insertion order: exports and records() read by it
    data jsonb NOT NULL,
    PRIMARY KEY (collection, id)
);
CREATE INDEX records_in_order ON records (collection, seq);
-- find/remove by field equality (a person's email, a LINE user id, a quiz) use containment.
CREATE INDEX records_fields ON records USING gin (data jsonb_path_ops);
CREATE INDEX records_email ON records (collection, (data ->> 'email'));
CREATE INDEX records_line_user ON records (collection, (data ->> 'line_user'));
CREATE INDEX records_quiz_at ON records (collection, (data ->> 'quiz'), (data ->> 'at'));
