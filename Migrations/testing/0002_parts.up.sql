CREATE TABLE parts (
    id        bigint GENERATED ALWAYS AS IDENTITY,
    widget_id uuid   NOT NULL,
    label     text   NOT NULL DEFAULT '"""#',
    CONSTRAINT parts_pkey PRIMARY KEY (id),
    CONSTRAINT parts_widget_fk FOREIGN KEY (widget_id) REFERENCES widgets (id)
);
CREATE INDEX parts_widget_idx ON parts (widget_id);
