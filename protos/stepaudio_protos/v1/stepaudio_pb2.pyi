from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HealthRequest(_message.Message):
    __slots__ = ("client_version", "protocol_version")
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    client_version: str
    protocol_version: int
    def __init__(self, client_version: _Optional[str] = ..., protocol_version: _Optional[int] = ...) -> None: ...

class HealthReply(_message.Message):
    __slots__ = ("daemon_version", "protocol_version", "pid", "uptime_s", "idle", "uid", "no_jobs")
    DAEMON_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    IDLE_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    NO_JOBS_FIELD_NUMBER: _ClassVar[int]
    daemon_version: str
    protocol_version: int
    pid: int
    uptime_s: float
    idle: bool
    uid: int
    no_jobs: bool
    def __init__(self, daemon_version: _Optional[str] = ..., protocol_version: _Optional[int] = ..., pid: _Optional[int] = ..., uptime_s: _Optional[float] = ..., idle: _Optional[bool] = ..., uid: _Optional[int] = ..., no_jobs: _Optional[bool] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Setting(_message.Message):
    __slots__ = ("name", "value", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    source: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ..., source: _Optional[str] = ...) -> None: ...

class VariantStatus(_message.Message):
    __slots__ = ("variant", "tier", "device", "worker_pid", "rss_bytes", "vram_bytes", "model_bytes", "load_time_s", "jobs_served", "idle_s", "next_tier", "next_tier_in_s", "running_job", "keep_alive_s", "folder", "kernel", "bits")
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    WORKER_PID_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    VRAM_BYTES_FIELD_NUMBER: _ClassVar[int]
    MODEL_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOAD_TIME_S_FIELD_NUMBER: _ClassVar[int]
    JOBS_SERVED_FIELD_NUMBER: _ClassVar[int]
    IDLE_S_FIELD_NUMBER: _ClassVar[int]
    NEXT_TIER_FIELD_NUMBER: _ClassVar[int]
    NEXT_TIER_IN_S_FIELD_NUMBER: _ClassVar[int]
    RUNNING_JOB_FIELD_NUMBER: _ClassVar[int]
    KEEP_ALIVE_S_FIELD_NUMBER: _ClassVar[int]
    FOLDER_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    BITS_FIELD_NUMBER: _ClassVar[int]
    variant: str
    tier: str
    device: str
    worker_pid: int
    rss_bytes: int
    vram_bytes: int
    model_bytes: int
    load_time_s: float
    jobs_served: int
    idle_s: float
    next_tier: str
    next_tier_in_s: float
    running_job: str
    keep_alive_s: float
    folder: str
    kernel: str
    bits: int
    def __init__(self, variant: _Optional[str] = ..., tier: _Optional[str] = ..., device: _Optional[str] = ..., worker_pid: _Optional[int] = ..., rss_bytes: _Optional[int] = ..., vram_bytes: _Optional[int] = ..., model_bytes: _Optional[int] = ..., load_time_s: _Optional[float] = ..., jobs_served: _Optional[int] = ..., idle_s: _Optional[float] = ..., next_tier: _Optional[str] = ..., next_tier_in_s: _Optional[float] = ..., running_job: _Optional[str] = ..., keep_alive_s: _Optional[float] = ..., folder: _Optional[str] = ..., kernel: _Optional[str] = ..., bits: _Optional[int] = ...) -> None: ...

class QueuedJob(_message.Message):
    __slots__ = ("job_id", "kind", "variant", "position", "waited_s")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    WAITED_S_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    kind: str
    variant: str
    position: int
    waited_s: float
    def __init__(self, job_id: _Optional[str] = ..., kind: _Optional[str] = ..., variant: _Optional[str] = ..., position: _Optional[int] = ..., waited_s: _Optional[float] = ...) -> None: ...

class CacheStatus(_message.Message):
    __slots__ = ("path", "hits", "misses", "entries", "bytes", "max_bytes")
    PATH_FIELD_NUMBER: _ClassVar[int]
    HITS_FIELD_NUMBER: _ClassVar[int]
    MISSES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    path: str
    hits: int
    misses: int
    entries: int
    bytes: int
    max_bytes: int
    def __init__(self, path: _Optional[str] = ..., hits: _Optional[int] = ..., misses: _Optional[int] = ..., entries: _Optional[int] = ..., bytes: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class StatusReply(_message.Message):
    __slots__ = ("daemon_version", "protocol_version", "pid", "uptime_s", "socket", "settings", "variants", "queue", "queue_capacity", "cache", "daemon_rss_bytes", "log_file", "idle_shutdown_in_s")
    DAEMON_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    SOCKET_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    VARIANTS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    DAEMON_RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOG_FILE_FIELD_NUMBER: _ClassVar[int]
    IDLE_SHUTDOWN_IN_S_FIELD_NUMBER: _ClassVar[int]
    daemon_version: str
    protocol_version: int
    pid: int
    uptime_s: float
    socket: str
    settings: _containers.RepeatedCompositeFieldContainer[Setting]
    variants: _containers.RepeatedCompositeFieldContainer[VariantStatus]
    queue: _containers.RepeatedCompositeFieldContainer[QueuedJob]
    queue_capacity: int
    cache: CacheStatus
    daemon_rss_bytes: int
    log_file: str
    idle_shutdown_in_s: float
    def __init__(self, daemon_version: _Optional[str] = ..., protocol_version: _Optional[int] = ..., pid: _Optional[int] = ..., uptime_s: _Optional[float] = ..., socket: _Optional[str] = ..., settings: _Optional[_Iterable[_Union[Setting, _Mapping]]] = ..., variants: _Optional[_Iterable[_Union[VariantStatus, _Mapping]]] = ..., queue: _Optional[_Iterable[_Union[QueuedJob, _Mapping]]] = ..., queue_capacity: _Optional[int] = ..., cache: _Optional[_Union[CacheStatus, _Mapping]] = ..., daemon_rss_bytes: _Optional[int] = ..., log_file: _Optional[str] = ..., idle_shutdown_in_s: _Optional[float] = ...) -> None: ...

class LoadRequest(_message.Message):
    __slots__ = ("variant", "keep_alive_s")
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    KEEP_ALIVE_S_FIELD_NUMBER: _ClassVar[int]
    variant: str
    keep_alive_s: float
    def __init__(self, variant: _Optional[str] = ..., keep_alive_s: _Optional[float] = ...) -> None: ...

class UnloadRequest(_message.Message):
    __slots__ = ("variant", "all", "to_cpu", "force")
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    ALL_FIELD_NUMBER: _ClassVar[int]
    TO_CPU_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    variant: str
    all: bool
    to_cpu: bool
    force: bool
    def __init__(self, variant: _Optional[str] = ..., all: _Optional[bool] = ..., to_cpu: _Optional[bool] = ..., force: _Optional[bool] = ...) -> None: ...

class UnloadReply(_message.Message):
    __slots__ = ("unloaded", "offloaded", "deferred", "stopped_jobs")
    UNLOADED_FIELD_NUMBER: _ClassVar[int]
    OFFLOADED_FIELD_NUMBER: _ClassVar[int]
    DEFERRED_FIELD_NUMBER: _ClassVar[int]
    STOPPED_JOBS_FIELD_NUMBER: _ClassVar[int]
    unloaded: _containers.RepeatedScalarFieldContainer[str]
    offloaded: _containers.RepeatedScalarFieldContainer[str]
    deferred: _containers.RepeatedScalarFieldContainer[str]
    stopped_jobs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, unloaded: _Optional[_Iterable[str]] = ..., offloaded: _Optional[_Iterable[str]] = ..., deferred: _Optional[_Iterable[str]] = ..., stopped_jobs: _Optional[_Iterable[str]] = ...) -> None: ...

class CloneJob(_message.Message):
    __slots__ = ("ref_audio", "ref_text", "text", "language")
    REF_AUDIO_FIELD_NUMBER: _ClassVar[int]
    REF_TEXT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    ref_audio: str
    ref_text: str
    text: str
    language: str
    def __init__(self, ref_audio: _Optional[str] = ..., ref_text: _Optional[str] = ..., text: _Optional[str] = ..., language: _Optional[str] = ...) -> None: ...

class EditJob(_message.Message):
    __slots__ = ("input_audio", "audio_text", "edit_type", "edit_info", "text", "iterations", "language")
    INPUT_AUDIO_FIELD_NUMBER: _ClassVar[int]
    AUDIO_TEXT_FIELD_NUMBER: _ClassVar[int]
    EDIT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EDIT_INFO_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    input_audio: str
    audio_text: str
    edit_type: str
    edit_info: str
    text: str
    iterations: int
    language: str
    def __init__(self, input_audio: _Optional[str] = ..., audio_text: _Optional[str] = ..., edit_type: _Optional[str] = ..., edit_info: _Optional[str] = ..., text: _Optional[str] = ..., iterations: _Optional[int] = ..., language: _Optional[str] = ...) -> None: ...

class TranscribeJob(_message.Message):
    __slots__ = ("audio",)
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    audio: str
    def __init__(self, audio: _Optional[str] = ...) -> None: ...

class JobRequest(_message.Message):
    __slots__ = ("clone", "edit", "transcribe", "output", "force", "variant", "keep_alive_s", "seed", "check", "candidates", "format", "sample_format", "stream_audio")
    CLONE_FIELD_NUMBER: _ClassVar[int]
    EDIT_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIBE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    VARIANT_FIELD_NUMBER: _ClassVar[int]
    KEEP_ALIVE_S_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CHECK_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FORMAT_FIELD_NUMBER: _ClassVar[int]
    STREAM_AUDIO_FIELD_NUMBER: _ClassVar[int]
    clone: CloneJob
    edit: EditJob
    transcribe: TranscribeJob
    output: str
    force: bool
    variant: str
    keep_alive_s: float
    seed: int
    check: bool
    candidates: int
    format: str
    sample_format: str
    stream_audio: bool
    def __init__(self, clone: _Optional[_Union[CloneJob, _Mapping]] = ..., edit: _Optional[_Union[EditJob, _Mapping]] = ..., transcribe: _Optional[_Union[TranscribeJob, _Mapping]] = ..., output: _Optional[str] = ..., force: _Optional[bool] = ..., variant: _Optional[str] = ..., keep_alive_s: _Optional[float] = ..., seed: _Optional[int] = ..., check: _Optional[bool] = ..., candidates: _Optional[int] = ..., format: _Optional[str] = ..., sample_format: _Optional[str] = ..., stream_audio: _Optional[bool] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "queued", "progress", "done", "failed", "audio")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    queued: Queued
    progress: Progress
    done: Done
    failed: Failed
    audio: AudioChunk
    def __init__(self, job_id: _Optional[str] = ..., queued: _Optional[_Union[Queued, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., done: _Optional[_Union[Done, _Mapping]] = ..., failed: _Optional[_Union[Failed, _Mapping]] = ..., audio: _Optional[_Union[AudioChunk, _Mapping]] = ...) -> None: ...

class AudioChunk(_message.Message):
    __slots__ = ("index", "sample_rate", "encoding", "pcm")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    index: int
    sample_rate: int
    encoding: str
    pcm: bytes
    def __init__(self, index: _Optional[int] = ..., sample_rate: _Optional[int] = ..., encoding: _Optional[str] = ..., pcm: _Optional[bytes] = ...) -> None: ...

class Queued(_message.Message):
    __slots__ = ("position",)
    POSITION_FIELD_NUMBER: _ClassVar[int]
    position: int
    def __init__(self, position: _Optional[int] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("stage", "fraction", "tokens", "detail")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    stage: str
    fraction: float
    tokens: int
    detail: str
    def __init__(self, stage: _Optional[str] = ..., fraction: _Optional[float] = ..., tokens: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class Done(_message.Message):
    __slots__ = ("output", "sample_rate", "duration_s", "timings", "options_json", "notes", "report_json")
    class TimingsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    TIMINGS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_JSON_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    REPORT_JSON_FIELD_NUMBER: _ClassVar[int]
    output: str
    sample_rate: int
    duration_s: float
    timings: _containers.ScalarMap[str, float]
    options_json: str
    notes: _containers.RepeatedScalarFieldContainer[str]
    report_json: str
    def __init__(self, output: _Optional[str] = ..., sample_rate: _Optional[int] = ..., duration_s: _Optional[float] = ..., timings: _Optional[_Mapping[str, float]] = ..., options_json: _Optional[str] = ..., notes: _Optional[_Iterable[str]] = ..., report_json: _Optional[str] = ...) -> None: ...

class Failed(_message.Message):
    __slots__ = ("reason", "message", "hint")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HINT_FIELD_NUMBER: _ClassVar[int]
    reason: str
    message: str
    hint: str
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ..., hint: _Optional[str] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class CancelReply(_message.Message):
    __slots__ = ("found", "state")
    FOUND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    found: bool
    state: str
    def __init__(self, found: _Optional[bool] = ..., state: _Optional[str] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShutdownReply(_message.Message):
    __slots__ = ("accepted",)
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    accepted: bool
    def __init__(self, accepted: _Optional[bool] = ...) -> None: ...
