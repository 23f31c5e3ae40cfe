-- Used only by the NimbusPostgres tests: exercises the embedded path of the migrator.
CREATE TABLE widgets (
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT widgets_pkey PRIMARY KEY (id),
    CONSTRAINT widgets_name_unique UNIQUE (name),
    CONSTRAINT widgets_name_length CHECK (char_length(name) BETWEEN 1 AND 100)
);
