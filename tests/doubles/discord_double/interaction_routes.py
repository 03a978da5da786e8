"""Interaction callbacks and the interaction webhook (followups, @original) with Discord's timing rules."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import responses
from .interactions import ALLOWED_CALLBACKS, APPLICATION_COMMAND, InteractionEvent, InteractionHandle
from .messages import EPHEMERAL, LOADING, MessageRecord, check_limits
from .routing import RestRequest, router

if TYPE_CHECKING:
    from .server import DiscordDouble

UNKNOWN_INTERACTION, ALREADY_ACKNOWLEDGED, INVALID_WEBHOOK_TOKEN = 10062, 40060, 50027
UNKNOWN_WEBHOOK, UNKNOWN_MESSAGE, UNKNOWN_CHANNEL = 10015, 10008, 10003
_MESSAGE_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12) | (1 << 15)


def _reject(
    inter: InteractionHandle | None, req: RestRequest, response: web.Response, kind: str
) -> web.Response:
    if inter is not None:
        body: Any = None
        if isinstance(response.body, bytes) and response.body:
            body = json.loads(response.body)
        inter.record(
            InteractionEvent(
                "rejected", request=req.json, status=response.status, error={"op": kind, **(body or {})}
            )
        )
    return response


def _message_extra(dd: DiscordDouble, inter: InteractionHandle) -> dict[str, Any]:
    user = inter.payload.get("member", {}).get("user") or inter.payload.get("user")
    metadata: dict[str, Any] = {
        "id": str(inter.id),
        "type": inter.type,
        "user": user,
        "authorizing_integration_owners": inter.payload.get("authorizing_integration_owners", {}),
    }
    if inter.type == APPLICATION_COMMAND:
        metadata["name"] = inter.payload["data"]["name"]
        metadata["command_type"] = inter.payload["data"].get("type", 1)
    return {
        "webhook_id": str(dd.application_id),
        "application_id": str(dd.application_id),
        "interaction_metadata": metadata,
    }


def _msg_type(inter: InteractionHandle) -> int:
    if inter.type == APPLICATION_COMMAND:
        return 20 if inter.payload["data"].get("type", 1) == 1 else 23
    return 0


@router.add("POST", "/interactions/{interaction_id}/{interaction_token}/callback", bot_auth=False)
async def create_callback(dd: DiscordDouble, req: RestRequest) -> web.Response:
    iid = req.params["interaction_id"]
    inter = dd.interactions_by_id.get(int(iid)) if iid.isdigit() else None
    if inter is None or inter.token != req.params["interaction_token"]:
        return responses.unknown("interaction", UNKNOWN_INTERACTION)
    if inter.callback_type is not None:
        return _reject(
            inter,
            req,
            responses.error(400, ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged"),
            "callback",
        )
    if inter.dispatched_at is None or dd.loop_time() - inter.dispatched_at > dd.ack_timeout:
        return _reject(inter, req, responses.unknown("interaction", UNKNOWN_INTERACTION), "callback")
    body = req.message
    ctype = body.get("type")
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    if ctype not in ALLOWED_CALLBACKS.get(inter.type, set()) or (
        ctype in (6, 7) and inter.source_message is None
    ):
        err = responses.field_errors(
            ["type"], "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type"
        )
        return _reject(inter, req, responses.invalid_form_body(err), "callback")
    if ctype in (4, 7):
        problem = check_limits(data, req.body.files, inter.attachment_size_limit)
        if problem is not None:
            return _reject(inter, req, problem, "callback")

    message: MessageRecord | None = None
    channel_id = inter.channel_id or 0
    if ctype == 4:
        message = dd.factory.create(
            channel_id=channel_id,
            author=dd.bot_user,
            message=data,
            files=req.body.files,
            msg_type=_msg_type(inter),
            flags=(data.get("flags") or 0) & _MESSAGE_FLAGS,
            extra=_message_extra(dd, inter),
        )
        dd.store_message(message)
        inter.original = message
    elif ctype == 5:
        message = dd.factory.create(
            channel_id=channel_id,
            author=dd.bot_user,
            message={},
            files=[],
            msg_type=_msg_type(inter),
            flags=LOADING | ((data.get("flags") or 0) & EPHEMERAL),
            extra=_message_extra(dd, inter),
        )
        dd.store_message(message)
        inter.original = message
    elif ctype in (6, 7):
        message = inter.source_message
        if ctype == 7 and message is not None:
            dd.factory.edit(message, data, req.body.files)
        inter.original = message

    inter.callback_type, inter.callback_data = ctype, copy.deepcopy(data)
    snapshot = copy.deepcopy(message.payload) if message is not None else None
    inter.record(InteractionEvent("callback", callback_type=ctype, message=snapshot, request=req.json))

    if not req.flag("with_response"):
        return responses.no_content()
    info: dict[str, Any] = {"id": str(inter.id), "type": inter.type}
    resource: dict[str, Any] = {"type": ctype}
    if message is not None and ctype in (4, 5, 7):
        info.update(
            response_message_id=message.payload["id"],
            response_message_loading=ctype == 5,
            response_message_ephemeral=message.ephemeral,
        )
        resource["message"] = message.payload
    return responses.json_response({"interaction": info, "resource": resource})


def _webhook_interaction(
    dd: DiscordDouble, req: RestRequest
) -> tuple[InteractionHandle | None, web.Response | None]:
    inter = dd.interactions_by_token.get(req.params["webhook_token"])
    if req.params["webhook_id"] != str(dd.application_id) or inter is None:
        return None, responses.error(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
    if inter.dispatched_at is None or dd.loop_time() - inter.dispatched_at > dd.token_ttl:
        return inter, _reject(
            inter, req, responses.error(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token"), "webhook"
        )
    return inter, None


@router.add("POST", "/webhooks/{webhook_id}/{webhook_token}", bot_auth=False)
async def execute_followup(dd: DiscordDouble, req: RestRequest) -> web.Response:
    inter, err = _webhook_interaction(dd, req)
    if err or inter is None:
        return err or responses.error(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
    if not inter.acknowledged:
        return _reject(inter, req, responses.unknown("Webhook", UNKNOWN_WEBHOOK), "followup")
    if inter.channel_id in dd.deleted_channels:  # the channel (or the thread) is gone: nowhere to post
        return _reject(inter, req, responses.unknown("Channel", UNKNOWN_CHANNEL), "followup")
    problem = check_limits(req.message, req.body.files, inter.attachment_size_limit)
    if problem is not None:
        return _reject(inter, req, problem, "followup")
    if inter.original is not None and inter.original.loading and not inter.original.deleted:
        # The first followup after a "thinking" defer becomes the deferred message itself.
        record = inter.original
        dd.factory.edit(record, req.message, req.body.files)
    else:
        record = dd.factory.create(
            channel_id=inter.channel_id or 0,
            author=dd.bot_user,
            message=req.message,
            files=req.body.files,
            msg_type=_msg_type(inter),
            flags=(req.message.get("flags") or 0) & _MESSAGE_FLAGS,
            extra=_message_extra(dd, inter),
        )
        dd.store_message(record)
    inter.followups.append(record)
    inter.record(InteractionEvent("followup", message=copy.deepcopy(record.payload), request=req.json))
    return responses.json_response(record.payload) if req.flag("wait") else responses.no_content()


def _target(inter: InteractionHandle, message_id: str) -> MessageRecord | None:
    if message_id == "@original":
        rec = inter.original
    else:
        rec = next(
            (
                r
                for r in [inter.original, *inter.followups]
                if r is not None and r.payload["id"] == message_id
            ),
            None,
        )
    return None if rec is None or rec.deleted else rec


@router.add("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", bot_auth=False)
async def get_webhook_message(dd: DiscordDouble, req: RestRequest) -> web.Response:
    inter, err = _webhook_interaction(dd, req)
    if err or inter is None:
        return err or responses.error(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
    rec = _target(inter, req.params["message_id"])
    return responses.json_response(rec.payload) if rec else responses.unknown("Message", UNKNOWN_MESSAGE)


@router.add("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", bot_auth=False)
async def edit_webhook_message(dd: DiscordDouble, req: RestRequest) -> web.Response:
    inter, err = _webhook_interaction(dd, req)
    if err or inter is None:
        return err or responses.error(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
    which = "original" if req.params["message_id"] == "@original" else "followup"
    rec = _target(inter, req.params["message_id"])
    if rec is None:
        return _reject(inter, req, responses.unknown("Message", UNKNOWN_MESSAGE), f"{which}_edit")
    problem = check_limits(req.message, req.body.files, inter.attachment_size_limit)
    if problem is not None:
        return _reject(inter, req, problem, f"{which}_edit")
    dd.factory.edit(rec, req.message, req.body.files)
    inter.record(InteractionEvent(f"{which}_edit", message=copy.deepcopy(rec.payload), request=req.json))
    return responses.json_response(rec.payload)


@router.add("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", bot_auth=False)
async def delete_webhook_message(dd: DiscordDouble, req: RestRequest) -> web.Response:
    inter, err = _webhook_interaction(dd, req)
    if err or inter is None:
        return err or responses.error(401, INVALID_WEBHOOK_TOKEN, "Invalid Webhook Token")
    which = "original" if req.params["message_id"] == "@original" else "followup"
    rec = _target(inter, req.params["message_id"])
    if rec is None:
        return _reject(inter, req, responses.unknown("Message", UNKNOWN_MESSAGE), f"{which}_delete")
    rec.deleted = True
    inter.record(InteractionEvent(f"{which}_delete", message=copy.deepcopy(rec.payload)))
    return responses.no_content()
