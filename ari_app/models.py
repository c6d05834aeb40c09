"""The store's tables (peewee on SQLite).

SQLite is the source of truth: a ticket exists here, committed, before the
caller hears the first prompt; the PSA and the board are fed from it. Every
time is a naive ``datetime`` in UTC; conversion to a client's time zone happens
only when something is shown.
"""

import datetime

import peewee

database = peewee.SqliteDatabase(None)

# Ticket.status values.
IN_CALL = "in_call"  # the caller is still in the IVR
OPEN = "open"  # triage finished; waiting for a first response
ABANDONED = "abandoned"  # the caller hung up before triage finished
STATUSES = (IN_CALL, OPEN, ABANDONED)

# Ticket.caller_flag values: why the caller could not be matched to a client.
UNKNOWN_CALLER = "unknown"
WITHHELD_CALLER = "withheld"
MALFORMED_CALLER = "malformed"


_clock_shift = datetime.timedelta(0)


def utcnow():
    """Now, in UTC, as every time in the store is kept."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + _clock_shift


def shift_clock(seconds):
    """Run the application's clock ``seconds`` ahead or behind.

    Only ``msp-intake demo`` uses this, so that its replayed Monday morning
    reads the same on the PBX's clock and on ours.
    """
    global _clock_shift
    _clock_shift = datetime.timedelta(seconds=seconds)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        # Saves write only the columns that changed: cheaper on the call path.
        only_save_dirty = True


class Company(BaseModel):
    name = peewee.CharField(unique=True)
    support_number = peewee.CharField(null=True, index=True)  # E.164
    external_id = peewee.CharField(null=True, index=True)  # the PSA's id
    source = peewee.CharField(default="csv")
    active = peewee.BooleanField(default=True)


class Contact(BaseModel):
    company = peewee.ForeignKeyField(Company, backref="contacts")
    name = peewee.CharField()
    phone = peewee.CharField(index=True)  # E.164
    email = peewee.CharField(null=True)
    external_id = peewee.CharField(null=True, index=True)
    source = peewee.CharField(default="csv")
    active = peewee.BooleanField(default=True)

    class Meta:
        indexes = ((("company", "phone"), True),)


class Ticket(BaseModel):
    channel_id = peewee.CharField(unique=True)
    contact_at = peewee.DateTimeField(index=True)  # the PBX's channel creation time
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    ended_at = peewee.DateTimeField(null=True)
    status = peewee.CharField(default=IN_CALL, index=True)
    source = peewee.CharField(default="phone")

    company = peewee.ForeignKeyField(Company, null=True, backref="tickets")
    contact = peewee.ForeignKeyField(Contact, null=True, backref="tickets")
    caller_number = peewee.CharField(default="")  # exactly as Asterisk sent it
    caller_e164 = peewee.CharField(null=True, index=True)
    caller_name = peewee.CharField(default="")
    caller_flag = peewee.CharField(null=True)  # unknown / withheld / malformed
    dialed_number = peewee.CharField(default="")
    matched_by = peewee.CharField(null=True)  # caller_id / support_number

    site_down = peewee.BooleanField(null=True)
    critical = peewee.BooleanField(null=True)
    users_affected = peewee.IntegerField(null=True)
    affected_system = peewee.CharField(null=True)
    symptom = peewee.TextField(null=True)
    transcript = peewee.TextField(null=True)
    # Voice answers (ari_app.speech): "voice", "keypad" or "unavailable".
    speech = peewee.CharField(null=True)
    transcript_confidence = peewee.FloatField(null=True)  # 0..1
    recording_path = peewee.CharField(null=True)  # the caller's words, WAV
    priority = peewee.CharField(null=True, index=True)
    priority_reason = peewee.CharField(null=True)
    steps_reached = peewee.CharField(default="")  # comma-separated step names
    hangup_cause = peewee.CharField(null=True)

    # The SLA clock's fields (ari_app.sla) go here.
    sla_policy = peewee.CharField(null=True)  # "default" or the contract's name
    first_response_due = peewee.DateTimeField(null=True, index=True)
    first_response_risk_at = peewee.DateTimeField(null=True, index=True)
    first_response_at = peewee.DateTimeField(null=True)
    first_response_by = peewee.CharField(null=True)
    first_response_via = peewee.CharField(null=True)  # psa / cli / page
    first_response_seconds = peewee.FloatField(null=True)  # on the SLA calendar
    resolution_due = peewee.DateTimeField(null=True, index=True)
    resolution_risk_at = peewee.DateTimeField(null=True)
    resolved_at = peewee.DateTimeField(null=True)

    # The PSA sync's fields (ari_app.psa) go here.

    @property
    def reference(self):
        """Our own reference for this ticket, as the caller hears and the PSA keeps."""
        return f"MSP-{self.id}"

    def steps(self):
        return [step for step in self.steps_reached.split(",") if step]


class TicketEvent(BaseModel):
    """One line of a contact's timeline: what happened, and when."""

    ticket = peewee.ForeignKeyField(Ticket, backref="events", on_delete="CASCADE")
    at = peewee.DateTimeField(index=True)
    kind = peewee.CharField()
    detail = peewee.TextField(default="")


class Meta(BaseModel):
    """Small counters shared by every process that opens the store."""

    key = peewee.CharField(primary_key=True)
    value = peewee.IntegerField(default=0)


TABLES = [Company, Contact, Ticket, TicketEvent, Meta]
