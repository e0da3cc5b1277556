"""Published event schemas: the only code services share besides the chassis.

Each event type is a pydantic model with `TYPE` (the subject, e.g. `catalog.title.upserted`)
and `VERSION`. Publishers stage `Model(...).model_dump(mode="json")` as the event data;
consumers parse it back with `Model.model_validate(event.data)`. A breaking change gets a new
VERSION and both versions are accepted until every consumer moved."""
