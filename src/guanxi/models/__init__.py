"""ORM models: one file per table group. Import this package to register every table."""

from guanxi.models.account import Account, ContactAccount
from guanxi.models.auth import ApiKey, Membership, User, UserSession
from guanxi.models.base import Base
from guanxi.models.contact import Contact, ContactConsent, ContactMerge, CustomField, Identity
from guanxi.models.content import Content, TrackedLink
from guanxi.models.event import Event, EventKey, EventType, TrackingSite
from guanxi.models.form import Form, FormSubmission
from guanxi.models.job import ImportChange, ImportError_, ImportMapping, Job
from guanxi.models.journey import (
    Journey,
    JourneyEnrolment,
    JourneyStep,
    JourneyVersion,
    JourneyWake,
    Task,
)
from guanxi.models.lifecycle import LifecycleStage, StageChange
from guanxi.models.message import (
    Broadcast,
    ChannelAccount,
    Message,
    MessageAttempt,
    MessageTemplate,
    SendingPolicy,
    Suppression,
)
from guanxi.models.notification import Collision, Notification
from guanxi.models.scoring import ContactScore, ScoreModel, ScorePoint, ScoreRule
from guanxi.models.segment import Segment, SegmentChange, SegmentMember, SegmentTimer
from guanxi.models.tag import ContactTag, Tag, TagGroup, TagRule
from guanxi.models.webhook import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from guanxi.models.workspace import Department, Workspace

__all__ = [
    "Account",
    "ApiKey",
    "Base",
    "Broadcast",
    "ChannelAccount",
    "Collision",
    "Contact",
    "ContactAccount",
    "ContactConsent",
    "ContactMerge",
    "ContactScore",
    "ContactTag",
    "Content",
    "CustomField",
    "Department",
    "Event",
    "EventKey",
    "EventType",
    "Form",
    "FormSubmission",
    "Identity",
    "ImportChange",
    "ImportError_",
    "ImportMapping",
    "Job",
    "Journey",
    "JourneyEnrolment",
    "JourneyStep",
    "JourneyVersion",
    "JourneyWake",
    "LifecycleStage",
    "Membership",
    "Message",
    "MessageAttempt",
    "MessageTemplate",
    "Notification",
    "ScoreModel",
    "ScorePoint",
    "ScoreRule",
    "Segment",
    "SegmentChange",
    "SegmentMember",
    "SegmentTimer",
    "SendingPolicy",
    "StageChange",
    "Suppression",
    "Tag",
    "TagGroup",
    "TagRule",
    "Task",
    "TrackedLink",
    "TrackingSite",
    "User",
    "UserSession",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Workspace",
]
