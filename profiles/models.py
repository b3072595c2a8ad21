"""The event store and the identity graph: events, profiles, identities, merges and rules."""

from django.conf import settings
from django.db import models


class Profile(models.Model):
    """One real person. Traits merge last-write-wins by event time."""

    traits = models.JSONField(default=dict, blank=True)
    # Per trait: {"at": ISO time of the event that set it, "source": source id}.
    trait_meta = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    # Set when this profile was merged into another; the profile is kept so the merge can be undone.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_profiles"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("view_personal_data", "Can see personal data unmasked")]
        indexes = [models.Index(fields=["last_seen"], name="profile_last_seen")]

    def __str__(self) -> str:
        return f"Profile {self.pk}"


class Identity(models.Model):
    """One normalised identifier (kind, value) and the profile it belongs to."""

    kind = models.CharField(max_length=64)
    value = models.CharField(max_length=512)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="identities")
    # The id of the source (an `integrations` row) the identifier was first seen from: a plain
    # number, so `profiles` depends on no other app, not even through the schema.
    source_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identity_kind_value_unique")
        ]
        indexes = [
            models.Index(fields=["profile", "kind"], name="identity_profile_kind"),
            # Search looks a value up without knowing its kind.
            models.Index(fields=["value"], name="identity_value"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class IdentityRule(models.Model):
    """Per identifier kind: how many a profile may hold, and which to drop first on conflict."""

    kind = models.CharField(max_length=64, unique=True)
    limit = models.PositiveIntegerField(default=5)
    # Lower number = higher priority; the lowest-priority identifier is dropped first.
    priority = models.PositiveIntegerField(default=100)
    # Regular expressions (full match) of values never used to match, on top of the global ones.
    blocked_values = models.JSONField(default=list, blank=True)
    # When the rule last changed (on the page, the API, the admin or `config apply`).
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "kind"]

    def __str__(self) -> str:
        return self.kind


class IdentityRuleChange(models.Model):
    """A change to the identity rules (a rule set, changed or removed): profiles resolved before
    the newest one follow the old rules until a `RebuildRun` finishes after it."""

    kind = models.CharField(max_length=64)
    changed_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} changed at {self.changed_at:%Y-%m-%d %H:%M}"


class RebuildRun(models.Model):
    """A finished `rebuild` of every profile from the events (`profiles_rebuild`): rules changed
    after the last one apply to new events only until the next."""

    finished_at = models.DateTimeField()
    events = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-finished_at"]

    def __str__(self) -> str:
        return f"Rebuild of {self.events} events at {self.finished_at:%Y-%m-%d %H:%M}"


class Event(models.Model):
    """One message in the Segment Tracking Spec shape. Append-only."""

    class Type(models.TextChoices):
        IDENTIFY = "identify"
        TRACK = "track"
        PAGE = "page"
        SCREEN = "screen"
        GROUP = "group"
        ALIAS = "alias"

    # The id of the source (an `integrations` row) that sent the message: a plain number, so
    # `profiles` depends on no other app, and no insert checks (and share-locks) the one source
    # row, which cost more than the insert itself on the ingest path. `integrations` refuses to
    # delete a source that has events. No single-column index: the composite indexes below lead
    # with the source.
    source_id = models.BigIntegerField()
    message_id = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=Type.choices)
    event = models.CharField(max_length=200, blank=True, default="")  # track: the event name
    name = models.CharField(max_length=200, blank=True, default="")  # page/screen name
    user_id = models.CharField(max_length=255, blank=True, default="")
    anonymous_id = models.CharField(max_length=255, blank=True, default="")
    group_id = models.CharField(max_length=500, blank=True, default="")
    previous_id = models.CharField(max_length=255, blank=True, default="")
    traits = models.JSONField(default=dict, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    integrations = models.JSONField(default=dict, blank=True)
    # Corrected for client clock skew: received_at - (sent_at - original_timestamp).
    timestamp = models.DateTimeField()
    original_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    # No database-level foreign key (the ORM still cascades): identity resolution attaches
    # thousands of events per batch, and PostgreSQL checked each row at commit with a KEY SHARE
    # lock on its profile, which also queued behind the other resolver's profile locks.
    # Raw-SQL deletes of profiles must delete or detach their events themselves.
    profile = models.ForeignKey(
        Profile,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The link of the profile the event is stored under, when that profile was merged away: no
    # column, a join (`profile_id` = the link's `profile_id`) for the queries that count events
    # per live profile. See `ProfileLink`.
    profile_link = models.ForeignObject(
        "ProfileLink",
        on_delete=models.DO_NOTHING,
        from_fields=["profile"],
        to_fields=["profile"],
        null=True,
        related_name="+",
    )

    class Meta:
        # On PostgreSQL the table is partitioned by month of `timestamp` (migration 0010,
        # `profiles/event_partitions.py`), and a unique constraint there would have to hold the
        # partition key, which a resent message need not repeat (its time is corrected for the
        # sender's clock on each send). There, `EventMessage` holds this constraint in its stead;
        # elsewhere (SQLite) it is this one.
        constraints = [
            models.UniqueConstraint(
                fields=["source_id", "message_id"], name="event_source_message_unique"
            )
        ]
        indexes = [
            models.Index(fields=["profile", "-timestamp"], name="event_profile_time"),
            models.Index(fields=["event", "profile", "timestamp"], name="event_name_profile_time"),
            models.Index(fields=["event", "-timestamp"], name="event_name_time"),
            models.Index(fields=["source_id", "-received_at"], name="event_source_received"),
            # The resolver claims unresolved events in event-time order.
            models.Index(
                fields=["timestamp", "id"],
                name="event_unresolved_time",
                condition=models.Q(resolved_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event or self.name} ({self.message_id})"


class ProfileLink(models.Model):
    """A merged-away profile whose events are still stored under it, and the live profile they
    belong to now (the end of its chain of merges).

    A merge moves a short history inside the resolution batch; a long one would make the merge
    cost in proportion to it, so the loser is linked instead: the merge re-points the loser's
    links to the winner and adds the loser's own (a handful of rows). Readers of a profile's
    events read those stored under the profiles linked to it too, and `links_consolidate`
    moves the events after the batch, in chunks, then drops the link.
    """

    profile = models.OneToOneField(
        Profile, primary_key=True, on_delete=models.CASCADE, related_name="link"
    )
    live = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        # Readers ask for the profiles linked to a live one.
        indexes = [models.Index(fields=["live", "profile"], name="profile_link_live")]

    def __str__(self) -> str:
        return f"Profile {self.profile_id} lives on as {self.live_id}"


class ProfileComputed(models.Model):
    """The values computed for one profile from its events: computed traits and scores.

    Kept beside the profile rather than in its traits so that recomputing them for every profile
    rewrites this narrow table only (one key index), never the profile rows and their search
    indexes. `values` maps a computed trait's or a score's key to its value; the segment compiler
    and the customer 360 read them as fields like traits. Writers merge their keys in with set-based
    SQL and remove keys that no longer apply.
    """

    profile = models.OneToOneField(
        Profile, primary_key=True, on_delete=models.CASCADE, related_name="computed"
    )
    values = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Computed values of profile {self.profile_id}"


class ScoreRun(models.Model):
    """One computation of a score over all customers: RFM, or a churn model's training.

    `details` holds what the score's page shows: for RFM the customers per group; for churn the
    model's measured quality on held-out customers (ROC AUC, calibration) beside the naive
    recency baseline's, its coefficients, and whether it was offered (written as scores).
    """

    class Kind(models.TextChoices):
        RFM = "rfm", "RFM"
        CHURN = "churn", "Churn risk"

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Customers scored (RFM) or written (churn; 0 when the model was not offered).
    scored = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["kind", "-started_at"], name="score_run_kind_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run of {self.started_at:%Y-%m-%d %H:%M}"


class EventMessage(models.Model):
    """The (source, message id) of every stored event: deduplication on PostgreSQL.

    A narrow table of its own, because the event table is partitioned by time there and its
    unique constraints must contain the partition key; a message sent again carries the same
    source and message id but not always the same time. The event store inserts the key and
    the event in one statement (`cdp_site.db.rows_insert_once`): an event is stored only when
    its key was new, so two requests carrying one message store it once, as a unique
    constraint on the events would. Dropping a partition for retention drops its keys with it.
    On SQLite the event table's own unique constraint does the job and this table stays empty.
    """

    pk = models.CompositePrimaryKey("source_id", "message_id")
    source_id = models.BigIntegerField()
    message_id = models.CharField(max_length=100)

    def __str__(self) -> str:
        return f"{self.source_id}:{self.message_id}"


class ProfileMerge(models.Model):
    """A merge of `loser` into `winner`, with its evidence; undoable."""

    winner = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="merges_won")
    loser = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="merges_lost")
    # The identifiers ([{"kind", "value"}]) that matched both profiles.
    identifiers = models.JSONField(default=list)
    # No database foreign key: a key into the time-partitioned event table would have to hold
    # the event's time too. The ORM still sets it to NULL when the event is deleted, and dropping
    # a partition for retention does the same (`event_partitions_drop_before`).
    event = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    # What the loser brought, so an undo can give it back exactly: its identities, and the
    # events that moved to the winner, in the batch or later by `links_consolidate` (the
    # events still stored under the loser come back with it as its link goes).
    moved_identity_ids = models.JSONField(default=list)
    moved_event_ids = models.JSONField(default=list)
    loser_traits = models.JSONField(default=dict)
    loser_trait_meta = models.JSONField(default=dict)
    merged_at = models.DateTimeField()
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-merged_at"]
        indexes = [
            models.Index(fields=["winner", "-merged_at"], name="merge_winner"),
            models.Index(fields=["loser"], name="merge_loser"),
        ]

    def __str__(self) -> str:
        return f"Profile {self.loser_id} merged into {self.winner_id}"

    @property
    def undone(self) -> bool:
        return self.undone_at is not None


class IdentitySplit(models.Model):
    """Two groups of identifiers that a person said belong to different people.

    Made when a merge is undone. Kept by identifier rather than by profile id, so it outlives
    the profiles: resolution never joins the two sides again, neither later events nor a
    `rebuild` that re-derives every profile from scratch. Each identifier is one
    `IdentitySplitMember`, on side 0 (the profile that stayed) or side 1 (the one that came back).
    """

    merge = models.ForeignKey(
        ProfileMerge, null=True, blank=True, on_delete=models.SET_NULL, related_name="splits"
    )
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    made_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Split {self.pk}"


class IdentitySplitMember(models.Model):
    """One identifier on one side of an `IdentitySplit`."""

    split = models.ForeignKey(IdentitySplit, on_delete=models.CASCADE, related_name="members")
    side = models.PositiveSmallIntegerField(choices=[(0, "stayed"), (1, "came back")])
    kind = models.CharField(max_length=64)
    value = models.CharField(max_length=512)

    class Meta:
        # The resolver looks splits up by the identifiers of the events it resolves.
        indexes = [models.Index(fields=["kind", "value"], name="split_member_identifier")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value} (side {self.side})"


class EventDayAggregate(models.Model):
    """Per profile, event name and UTC day: how many events, their revenue, first and last time.

    Kept by `profiles.aggregates` as events are resolved, merged, moved back, erased or dropped
    for retention, keyed by the profile the events are stored under (as `Event.profile`), so
    a question about event counts in a window of whole days, or about totals, is answered from
    a few narrow rows instead of every raw event. `revenue_sum` adds up the numeric `revenue`
    properties only (`revenue_count` says how many there were): text or missing revenue is
    skipped, as the computed traits skip it.
    """

    pk = models.CompositePrimaryKey("profile_id", "event", "day")
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    event = models.CharField(max_length=200)
    day = models.DateField()
    count = models.PositiveIntegerField()
    revenue_sum = models.DecimalField(max_digits=40, decimal_places=10, null=True)
    revenue_count = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        # Windows of days: by event, then day, with the profile in the index for index-only scans.
        indexes = [
            models.Index(fields=["event", "day", "profile"], name="event_day_agg_event_day"),
        ]

    def __str__(self) -> str:
        return f"{self.event} on {self.day} for profile {self.profile_id}: {self.count}"


class EventTotal(models.Model):
    """Per profile and event name, over all time: the sum of its `EventDayAggregate` rows.

    Answers "ever" counts, "at least once in the last N days" (the last time is recent enough)
    and the totals the built-in computed traits read, with one row per profile and event.
    """

    pk = models.CompositePrimaryKey("profile_id", "event")
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    event = models.CharField(max_length=200)
    count = models.PositiveIntegerField()
    revenue_sum = models.DecimalField(max_digits=40, decimal_places=10, null=True)
    revenue_count = models.PositiveIntegerField(default=0)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["event", "last_at", "profile"], name="event_total_event_last"),
            models.Index(fields=["event", "count", "profile"], name="event_total_event_count"),
        ]

    def __str__(self) -> str:
        return f"{self.event} for profile {self.profile_id}: {self.count}"


class EventAggregateState(models.Model):
    """Whether the event aggregates have been built over every stored event (one row).

    Until they have, the segment compiler reads raw events; from then on every change to the
    events keeps them exact.
    """

    name = models.CharField(max_length=32, primary_key=True)
    built_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Event aggregates built at {self.built_at}"


class ComputedTrait(models.Model):
    """A value computed per profile from its events, defined by a person (or built in).

    Its values live in `ProfileComputed.values[key]`; the segment builder offers it as a field.
    """

    class Kind(models.TextChoices):
        EVENT_COUNT = "event_count", "Event counter"
        SUM = "sum", "Sum of a property"
        AVERAGE = "average", "Average of a property"
        MIN = "min", "Minimum of a property"
        MAX = "max", "Maximum of a property"
        FIRST_VALUE = "first_value", "First value of a property"
        LAST_VALUE = "last_value", "Last value of a property"
        MOST_FREQUENT = "most_frequent", "Most frequent value of a property"
        UNIQUE_COUNT = "unique_count", "Number of distinct values of a property"
        FIRST_TIME = "first_time", "Time of the first event"
        LAST_TIME = "last_time", "Time of the last event"
        DAYS_SINCE_LAST = "days_since_last", "Days since the last event"

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The event name; blank means every event (for the time kinds: the person's last activity).
    event = models.CharField(max_length=200, blank=True, default="")
    property = models.CharField(max_length=200, blank=True, default="")
    # Property filters: [{"property", "operator", "value"}], every one must hold.
    where = models.JSONField(default=list, blank=True)
    # Only events of the last N days count; null: all of them.
    window_days = models.PositiveIntegerField(null=True, blank=True)
    builtin = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_computed_at = models.DateTimeField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_profiles = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    # How the values were spread at the last full computation (`computed_sql.distribution`).
    distribution = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-builtin", "name"]

    def __str__(self) -> str:
        return self.name


class DataField(models.Model):
    """One field the data holds, from the data catalogue: a trait path, an event, or an event's
    property or context path (dotted into nested objects: `address.country`, `page.url`), with
    its type, how often it was seen, and its class.

    The class decides what people whose role sees masked data are shown: only fields classified
    not personal are shown to them, everything else (unknown included) is masked. A class is
    set automatically from the key and the values seen, with the evidence kept, until a person
    confirms or changes it; automatic classification then leaves it alone.
    """

    class Kind(models.TextChoices):
        TRAIT = "trait", "Trait"
        EVENT = "event", "Event"
        PROPERTY = "property", "Event property"
        CONTEXT = "context", "Event context"

    class Classification(models.TextChoices):
        SENSITIVE = "sensitive", "Sensitive"
        PERSONAL = "personal", "Personal"
        UNKNOWN = "unknown", "Not known yet"
        NOT_PERSONAL = "not_personal", "Not personal"

    class ClassifiedBy(models.TextChoices):
        AUTOMATIC = "automatic", "Automatically"
        PERSON = "person", "By a person"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    # The event name of a property (and of an event row); empty for traits and context.
    event = models.CharField(max_length=200, blank=True, default="")
    path = models.CharField(max_length=255, blank=True, default="")
    # "string", "number", "boolean", "date", "list", "event"
    value_type = models.CharField(max_length=16, default="string")
    seen = models.PositiveIntegerField(default=0)
    # The most common values with how often each was seen ([[value, count], ...]): kept only for
    # fields classified not personal, so the catalogue itself holds no personal data.
    common_values = models.JSONField(default=list, blank=True)
    classification = models.CharField(
        max_length=16, choices=Classification.choices, default=Classification.UNKNOWN
    )
    classified_by = models.CharField(
        max_length=16, choices=ClassifiedBy.choices, default=ClassifiedBy.AUTOMATIC
    )
    # Why the automatic classification chose the class: sentences people read.
    evidence = models.JSONField(default=list, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_by_name = models.CharField(max_length=150, blank=True, default="")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["kind", "event", "path"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "event", "path"], name="data_field_unique")
        ]
        indexes = [models.Index(fields=["classification", "kind"], name="data_field_class")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.event}:{self.path}"

    @property
    def shown_masked_roles(self) -> bool:
        """Whether people who see masked data are shown this field's values."""
        return self.classification == self.Classification.NOT_PERSONAL
