"""The Gradio Blocks of the web UI: Clone, Edit, Voices and Models tabs.

Handlers are thin: they call Actions (the daemon, through the HTTP API's client) and render with views.
A running job streams its progress into the tab's status line ("queued: position 1", "generating, 120
tokens"), with an elapsed clock; the Cancel button cancels the Gradio event, which closes the job's
stream, and the daemon cancels a job whose stream is closed. Errors are shown as the CLI prints them.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import gradio as gr

from stepaudio_protos import edits, languages
from stepaudio_protos.facts import MAX_CANDIDATES, MAX_ITERATIONS, VARIANTS
from stepaudio_web import views
from stepaudio_web.actions import Actions, JobOutcome, UiError, progress_text

VARIANT_CHOICES = ["default", *VARIANTS]
EDIT_TYPES = list(edits.EDIT_TYPES)
LANGUAGE_CHOICES = ["auto", *languages.LANGUAGES]  # auto = no tag: Mandarin or English
ABOUT = ("Clone a voice from a short recording, then edit emotion, style, speed or sounds. "
         "Every job runs on the local stepaudio daemon, the same model the `stepaudio` command uses.")


def error_text(exc: UiError) -> str:
    return "error: " + exc.text()


async def run_with_progress(start: Callable[[Callable[[Any], None]], Awaitable[JobOutcome]],
                            ) -> AsyncIterator[tuple[str, JobOutcome | None]]:
    """Run a job; yield (status line, None) on every event and (final line, outcome) at the end.
    Leaving early (the Cancel button) cancels the job."""
    events: asyncio.Queue = asyncio.Queue()
    began = time.monotonic()
    task = asyncio.ensure_future(start(events.put_nowait))
    try:
        while True:
            getter = asyncio.ensure_future(events.get())
            done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                _, line = progress_text(getter.result())
                if line:
                    yield f"{time.monotonic() - began:.0f} s · {line}", None
                continue
            getter.cancel()
            try:
                outcome = task.result()
            except UiError as exc:
                yield error_text(exc), None
                return
            yield f"done in {time.monotonic() - began:.1f} s", outcome
            return
    finally:
        if not task.done():
            task.cancel()


def build_blocks(actions: Actions) -> gr.Blocks:
    with gr.Blocks(title="stepaudio", analytics_enabled=False) as blocks:
        gr.Markdown(f"# stepaudio\n{ABOUT}")
        last_result = gr.State("")
        with gr.Tab("Clone", id="clone"):
            _clone_tab(actions, last_result)
        with gr.Tab("Edit", id="edit"):
            _edit_tab(actions, last_result)
        with gr.Tab("Voices", id="voices"):
            _voices_tab(actions)
        with gr.Tab("Models", id="models"):
            _models_tab(actions)
    return blocks


def _run_buttons(kind: str, label: str) -> tuple[gr.Button, gr.Button]:
    with gr.Row():
        return (gr.Button(label, variant="primary", elem_id=f"{kind}-run"),
                gr.Button("Cancel", elem_id=f"{kind}-cancel"))


def _result_panel(kind: str) -> tuple[gr.Markdown, gr.Audio, gr.Markdown]:
    """The status line (progress, errors), the result to play and download, and what the job reported."""
    return (gr.Markdown("", elem_id=f"{kind}-status"),
            gr.Audio(label="Result", type="filepath", interactive=False, buttons=["download"], elem_id=f"{kind}-out"),
            gr.Markdown("", elem_id=f"{kind}-info"))


# ---- Clone ------------------------------------------------------------------------------------------
def _clone_tab(actions: Actions, last_result: gr.State) -> None:
    with gr.Row():
        with gr.Column():
            voice = gr.Dropdown(label="Saved voice", choices=_voice_names(actions), value=None,
                                info="or upload / record a reference below")
            ref = gr.Audio(label="Reference recording (3-10 s)", sources=["upload", "microphone"], type="filepath",
                           elem_id="clone-ref")
            ref_text = gr.Textbox(label="Reference transcript", placeholder="what the reference says "
                                  "(empty: transcribed automatically)", elem_id="clone-ref-text")
            transcribe = gr.Button("Transcribe reference", size="sm")
            text = gr.Textbox(label="Text to say", lines=5, elem_id="clone-text",
                              placeholder="Text to say in that voice")
            language = gr.Dropdown(LANGUAGE_CHOICES, value="auto", label="Language of the text",
                                   info="Japanese and Korean references need their transcript typed in")
            with gr.Row():
                variant = gr.Dropdown(VARIANT_CHOICES, value="default", label="Variant")
                seed = gr.Textbox(label="Seed", placeholder="random", max_lines=1)
                candidates = gr.Slider(1, MAX_CANDIDATES, value=1, step=1, label="Candidates (keeps the best)")
            run, cancel = _run_buttons("clone", "Clone")
        with gr.Column():
            status, out, info = _result_panel("clone")
            with gr.Row():
                voice_name = gr.Textbox(label="Save the reference as voice", placeholder="name",
                                        elem_id="clone-voice-name")
                save = gr.Button("Save voice", elem_id="clone-save-voice")
            saved = gr.Markdown("", elem_id="clone-saved")

    async def do_clone(ref_path, ref_words, words, variant_name, seed_value, n, lang):
        yield gr.skip(), "starting…", gr.skip(), gr.skip()
        async for line, outcome in run_with_progress(
                lambda on_event: actions.clone(ref_path, ref_words or "", words or "", variant_name, seed_value,
                                               int(n), on_event, lang)):
            if outcome is None:
                yield gr.skip(), line, gr.skip(), gr.skip()
            else:
                yield outcome.audio, line, views.outcome_markdown(outcome), outcome.audio

    event = run.click(do_clone, [ref, ref_text, text, variant, seed, candidates, language],
                      [out, status, info, last_result])
    cancel.click(lambda: "cancelled", None, status, cancels=[event])
    transcribe.click(_transcriber(actions), ref, [ref_text, status])
    voice.change(_voice_picker(actions), voice, [ref, ref_text, status])

    async def do_save(name, ref_path, ref_words):
        try:
            saved_name = await actions.save_voice(name, ref_path, ref_words or "")
        except UiError as exc:
            return error_text(exc), gr.skip()
        return f"saved voice **{saved_name}**", gr.Dropdown(choices=_voice_names(actions))

    save.click(do_save, [voice_name, ref, ref_text], [saved, voice])


def _transcriber(actions: Actions):
    async def transcribe(audio_path):
        try:
            return await actions.transcribe(audio_path), "transcribed"
        except UiError as exc:
            return gr.skip(), error_text(exc)
    return transcribe


def _voice_picker(actions: Actions):
    def pick(name):
        if not name:
            return gr.skip(), gr.skip(), ""
        try:
            path = actions.voice_audio(name)
        except UiError as exc:
            return gr.skip(), gr.skip(), error_text(exc)
        text = next((v["text"] for v in actions.voices() if v["name"] == name), "")
        return path, text, f"using saved voice **{name}**"
    return pick


def _voice_names(actions: Actions) -> list[str]:
    return [v["name"] for v in actions.voices()]


# ---- Edit -------------------------------------------------------------------------------------------
def _edit_tab(actions: Actions, last_result: gr.State) -> None:
    history = gr.State([])
    with gr.Row():
        with gr.Column():
            source = gr.Audio(label="Recording to edit", sources=["upload", "microphone"], type="filepath",
                              elem_id="edit-source")
            take_last = gr.Button("Use the last clone result", size="sm", elem_id="edit-take-last")
            transcript = gr.Textbox(label="Transcript of the recording", elem_id="edit-transcript",
                                    placeholder="empty: transcribed automatically")
            transcribe = gr.Button("Transcribe recording", size="sm")
            language = gr.Dropdown(LANGUAGE_CHOICES, value="auto", label="Language spoken")
            edit_type = gr.Radio(EDIT_TYPES, value="emotion", label="Edit", elem_id="edit-type")
            about = gr.Markdown(edits.DESCRIPTIONS["emotion"])
            option = gr.Dropdown(edits.EDIT_TYPES["emotion"], value=edits.EDIT_TYPES["emotion"][0], label="Option",
                                 elem_id="edit-option")
            with gr.Row(visible=False) as tag_row:
                tagged = gr.Textbox(label="Target text with sound tags", scale=3, elem_id="edit-tagged",
                                    placeholder="Well [Laughter] that was fun")
                tag = gr.Dropdown(edits.PARALINGUISTIC_TAGS, value=edits.PARALINGUISTIC_TAGS[0], label="Tag")
                insert = gr.Button("Insert tag", size="sm")
            with gr.Row():
                iterations = gr.Slider(1, MAX_ITERATIONS, value=1, step=1,
                                       label="Iterations (each pass edits the last)")
                variant = gr.Dropdown(VARIANT_CHOICES, value="default", label="Variant")
                seed = gr.Textbox(label="Seed", placeholder="random", max_lines=1)
            run, cancel = _run_buttons("edit", "Edit")
        with gr.Column():
            status, out, info = _result_panel("edit")
            passes = gr.Dropdown([], label="History of passes", elem_id="edit-history")
            past = gr.Audio(label="Selected pass", type="filepath", interactive=False, elem_id="edit-past")
            again = gr.Button("Edit from the selected pass", size="sm", elem_id="edit-again")

    def on_type(kind):
        choices = edits.EDIT_TYPES.get(kind, [])
        return (edits.DESCRIPTIONS.get(kind, ""),
                gr.Dropdown(choices=choices, value=choices[0] if choices else None, visible=bool(choices)),
                gr.Row(visible=kind == "paralinguistic"))

    edit_type.change(on_type, edit_type, [about, option, tag_row])
    insert.click(lambda text, t: f"{(text or '').rstrip()} {t} ".lstrip(), [tagged, tag], tagged)
    take_last.click(lambda path: path or gr.skip(), last_result, source)
    transcribe.click(_transcriber(actions), source, [transcript, status])

    async def do_edit(src, words, kind, opt, tagged_text, n, variant_name, seed_value, past_passes, lang):
        chosen = tagged_text if kind == "paralinguistic" else (opt or "")
        yield gr.skip(), "starting…", gr.skip(), gr.skip(), gr.skip()
        async for line, outcome in run_with_progress(
                lambda on_event: actions.edit(src, words or "", kind, chosen, int(n), variant_name, seed_value,
                                              on_event, lang)):
            if outcome is None:
                yield gr.skip(), line, gr.skip(), gr.skip(), gr.skip()
                continue
            label = f"pass {len(past_passes) + 1}: {kind} {chosen}".strip()
            past_passes = [*past_passes, {"label": label, "audio": outcome.audio}]
            labels = [p["label"] for p in past_passes]
            yield (outcome.audio, line, views.outcome_markdown(outcome), past_passes,
                   gr.Dropdown(choices=labels, value=label))

    event = run.click(do_edit, [source, transcript, edit_type, option, tagged, iterations, variant, seed, history,
                                language],
                      [out, status, info, history, passes])
    cancel.click(lambda: "cancelled", None, status, cancels=[event])

    def pick_pass(label, past_passes):
        return next((p["audio"] for p in past_passes if p["label"] == label), None)

    passes.change(pick_pass, [passes, history], past)
    again.click(lambda label, pp: pick_pass(label, pp) or gr.skip(), [passes, history], source)


# ---- Voices -----------------------------------------------------------------------------------------
def _voices_tab(actions: Actions) -> None:
    table = gr.Dataframe(views.voice_rows(actions.voices()), headers=views.VOICE_COLUMNS, interactive=False,
                         label="Saved voices (the same as `stepaudio voices list`)", elem_id="voices-table")
    with gr.Row():
        name = gr.Dropdown(_voice_names(actions), label="Voice", elem_id="voices-name")
        refresh = gr.Button("Refresh", size="sm", elem_id="voices-refresh")
        remove = gr.Button("Remove", variant="stop", size="sm", elem_id="voices-remove")
    audio = gr.Audio(label="Reference", type="filepath", interactive=False, elem_id="voices-audio")
    message = gr.Markdown("", elem_id="voices-message")

    def listing():
        voices = actions.voices()
        return views.voice_rows(voices), gr.Dropdown(choices=[v["name"] for v in voices], value=None)

    def play(voice_name):
        if not voice_name:
            return None, ""
        try:
            return actions.voice_audio(voice_name), ""
        except UiError as exc:
            return None, error_text(exc)

    def drop(voice_name):
        if not voice_name:
            return gr.skip(), gr.skip(), "choose a voice first"
        try:
            actions.remove_voice(voice_name)
        except UiError as exc:
            return gr.skip(), gr.skip(), error_text(exc)
        rows, names = listing()
        return rows, names, f"removed voice **{voice_name}**"

    refresh.click(listing, None, [table, name])
    name.change(play, name, [audio, message])
    remove.click(drop, name, [table, name, message])


# ---- Models -----------------------------------------------------------------------------------------
def _models_tab(actions: Actions) -> None:
    summary = gr.Markdown("", elem_id="models-summary")
    table = gr.Dataframe(headers=views.MODEL_COLUMNS, interactive=False, label="Variants", elem_id="models-table")
    with gr.Row():
        variant = gr.Dropdown(list(VARIANTS), value=VARIANTS[0], label="Variant")
        load = gr.Button("Load", elem_id="models-load")
        unload = gr.Button("Unload", elem_id="models-unload")
        offload = gr.Button("Offload to CPU", elem_id="models-offload")
        unload_all = gr.Button("Unload all", variant="stop", elem_id="models-unload-all")
    message = gr.Markdown("", elem_id="models-message")
    timer = gr.Timer(2.0)

    async def refresh():
        try:
            status = await actions.status()
        except UiError as exc:
            return error_text(exc), gr.skip()
        return views.status_summary(status), views.model_rows(status)

    def acting(call: Callable[[str], Awaitable[str]]):
        async def act(name):
            try:
                said = await call(name)
            except UiError as exc:
                said = error_text(exc)
            text, rows = await refresh()
            return said, text, rows
        return act

    timer.tick(refresh, None, [summary, table])
    load.click(acting(actions.load), variant, [message, summary, table])
    unload.click(acting(lambda v: actions.unload(v)), variant, [message, summary, table])
    offload.click(acting(lambda v: actions.unload(v, to_cpu=True)), variant, [message, summary, table])
    unload_all.click(acting(lambda v: actions.unload(v, all_=True)), variant, [message, summary, table])
