"""English texts. Keys are shared by every language."""

TEXTS: dict[str, str] = {
    # results
    "result.header": "**{prompt}**",
    "result.details": "{model} · {size} · {images} · cost {cost}",
    "result.images": "{count} {count:image|images}",
    "result.cost_unknown": "not known (no price is set for this model)",
    "result.cost_split": "{cost} (you pay {charged})",
    "result.refused": "{refused} of {total} were refused by the content filter and not charged.",
    "result.lost": "{lost} {lost:image|images} could not be fetched from the gateway or arrived damaged; you were not charged for {lost:it|them}.",
    "result.failed": "{failed} of {total} could not be made by the image service and were not charged.",
    "result.unposted": "{unposted} {unposted:image|images} could not be posted (Discord refused the upload); you were not charged for {unposted:it|them}.",
    "result.fewer": "The image service made {made} of the {requested} images asked for; only what you got is charged.",
    "result.stopped_by_filter": "The content filter stopped the request before all {requested} images were made; you were charged only for the images you got.",
    "result.stopped": "The request stopped before all {requested} images were made; you were charged only for the images you got.",
    "result.unsent": "The image service counted {billed} {billed:image|images} made but sent {sent}; you were not charged for the missing ones.",
    "result.quota_left": "Left for you: {parts}.",
    "result.quota_images": "{left} {left:image|images} today",
    "result.quota_usd": "{left} this month",
    "result.quota_separator": ", ",
    "result.unlimited": "no limits",
    "result.quota_left_server": "Left for you: {parts}. The server's budget has {left} left this month.",
    "result.working": "Generating {count} {count:image|images} with {model}…",
    # a request's images over several messages: each says which (and of how many) it holds
    "result.numbers": "Images {first}–{last} of {total}",
    "result.numbers_list": "Images {numbers} of {total}",
    "result.numbers_separator": ", ",
    "result.number": "Image {number} of {total}",
    "result.more": "{numbers}: **{prompt}**",
    "size.auto": "auto",
    # usage
    "usage.title": "Your image usage",
    "usage.images_today": "Images today: {used} of {limit}",
    "usage.images_held": "Of which {count} {count:is|are} held for requests in progress (given back if not delivered).",
    "usage.spend_month": "Spent this month: {used} of {limit}",
    "usage.images_today_unlimited": "Images today: {used} (no limit)",
    "usage.spend_month_unlimited": "Spent this month: {used} (no limit)",
    "usage.guild_budget": "Server budget left this month: {left} of {limit}",
    "usage.guild_spent": "Server spend this month: {used}",
    "usage.unpriced": "Images of models without a price set count as $0 here; the gateway may still bill them.",
    # moderation (refusals never name the blocked terms)
    "moderation.blocked": (
        "Your prompt was refused: it contains something this server does not allow. Please rephrase it. "
        "You were not charged."
    ),
    "moderation.wrong_channel": "Image commands work only in {channels} on this server.",
    "moderation.role_deleted": (
        "Image commands here need a role that was deleted, so no one can use them. Ask a server admin to "
        "choose another with /settings required-role."
    ),
    "moderation.channels_deleted": (
        "Image commands are allowed only in channels that were all deleted, so no one can use them. Ask a server "
        "admin to choose others with /settings channels."
    ),
    "moderation.role_required": "You need the {role} role to use image commands on this server.",
    # approval mode
    "approval.submitted": (
        "Your request was sent to the moderators for approval. You will be told in this channel when they "
        "decide; nothing is charged until then."
    ),
    "approval.already_waiting": (
        "The same request of yours is already waiting for the moderators; you will be told in this channel when "
        "they decide. Nothing was sent again, and nothing is charged until then."
    ),
    "approval.cannot_post_here": (
        "Approval mode is on, and an approved request is posted in this channel, but the bot cannot post here "
        "(it needs to see the channel, send messages and attach files). Ask a server admin, or use another "
        "channel. You were not charged."
    ),
    "approval.thread_locked": (
        "Approval mode is on, and an approved request is posted in this thread, but the thread is locked: the "
        "bot cannot post here. Ask a moderator to unlock it, or use another channel. You were not charged."
    ),
    "approval.cannot_post_there": "the bot can no longer post in {channel}, where the results would go",
    "approval.price_rose": "its price went up from {reviewed} to {now} after it was reviewed, so nothing was made; ask again to have it reviewed at the new price",
    "approval.channel_gone": "the channel where it was asked has been deleted, so nothing was made",
    "approval.member_not_told": "{member} could not be told in {channel} (the bot cannot post there); please let them know.",
    "approval.member_not_told_gone": "{member} could not be told: the channel where they asked was deleted. Please let them know.",
    "approval.channel_unavailable": (
        "Approval mode is on, but the bot cannot post in the moderators' channel. Ask a server admin to "
        "check `/settings approval`. You were not charged."
    ),
    "approval.title": "**Approval request #{id}**",
    "approval.member": "Member: {member} in {channel}",
    "approval.prompt": "Prompt: {prompt}",
    "approval.prompt_below": "Prompt: {length} characters, in full below",
    "approval.details": "{model} · {size} · {count} {count:image|images} · costs at most {cost}",
    "approval.cost_unknown": "an unknown amount (no price set)",
    "approval.references_attached": "Reference images: {count}, attached below",
    "approval.references_partly_attached": (
        "Reference images: {count}, the first {attached} attached below (Discord takes at most 25 MiB a "
        "message), the other {missing}: {links}"
    ),
    "approval.references_linked": "Reference images: {links}",
    "approval.links_below": "linked below",
    "approval.reference_number": "Image {number}",
    "approval.approve": "Approve",
    "approval.reject": "Reject",
    "approval.decided_approved": "✅ Approved by {moderator}.",
    "approval.decided_rejected": "❌ Rejected by {moderator}.",
    "approval.decided_failed": "⚠️ Approved by {moderator}, but it could not run: {reason}",
    # why, as moderators read it: the member's own limit is theirs, not the reader's ("your")
    "approval.member_limit.daily_images": (
        "{member}'s daily limit of {limit} {limit:image|images} does not allow it now ({used} made or held for requests in progress, it asks for {requested})."
    ),
    "approval.member_limit.monthly_usd": (
        "{member}'s monthly limit of {limit} does not allow it now ({used} spent or held for requests in progress, "
        "it needs {requested})."
    ),
    "interrupted.delivered": (
        "{member} The bot restarted while your request “{prompt}” was running: {delivered} of {requested} "
        "{requested:image|images} reached you and you were charged {charged} for {delivered:it|them}; the rest were not charged."
    ),
    "interrupted.delivered_unpriced": (
        "{member} The bot restarted while your request “{prompt}” was running: {delivered} of {requested} "
        "{requested:image|images} reached you (no price is set for this model, so what {delivered:it costs|they cost} is not known); the rest were "
        "not charged."
    ),
    "interrupted.nothing": (
        "{member} The bot restarted while your request “{prompt}” was running. You were not charged for "
        "it; if its images did not arrive, please try again."
    ),
    "approval.reopened": "↩️ The bot restarted before this request started: it waits for a decision again.",
    "approval.restarting": (
        "The bot is restarting, so this request could not start. It is still waiting for approval: "
        "press Approve again in a minute, once the bot is back."
    ),
    "approval.status_approved": "approved",
    "approval.status_rejected": "rejected",
    "approval.status_failed": "approved",
    "approval.already_decided": "This request was already {status} by {moderator}.",
    "approval.unknown": "This approval request does not exist any more.",
    "approval.member_withdrawn": (
        "{member}, your image request **{prompt}** was withdrawn: its review message was removed before a "
        "moderator decided. You were not charged; ask again if you still want it."
    ),
    # Without the prompt: what a moderator rejected is not repeated in the member's channel.
    "approval.member_rejected": "{member}, your image request of {asked} was rejected by {moderator}. You were not charged.",
    "approval.member_failed": "{member}, your image request **{prompt}** was approved by {moderator} but could not run: {reason}",
    "approval.member_failed_blocked": "{member}, an image request of yours was approved by {moderator} but could not run: {reason}",
    # /blocklist and /settings (admins)
    "settings.approval_cannot_post": (
        "The bot cannot post in {channel} (it needs to see the channel, send messages, attach files and embed links), so "
        "moderators would never see the requests there. Give it those permissions, or choose another channel."
    ),
    "settings.term_added": "Blocked term added. Prompts that contain it are refused.",
    "settings.term_exists": "That term is already blocked.",
    "settings.term_removed": "Blocked term removed.",
    "settings.term_missing": "That term is not on the blocklist.",
    "settings.term_invalid": "That term can't be used: {reason}",
    "term.too_long": "it is longer than {limit} characters.",
    "term.empty_regex": "the regular expression is empty.",
    "term.bad_regex": "the regular expression is invalid at character {position}.",
    "term.regex_too_large": "the regular expression repeats or nests more than the bot can check.",
    "term.matches_everything": "the regular expression matches every prompt.",
    "term.empty": "the term is empty.",
    "settings.blocklist": "Blocked terms ({count}):\n{terms}",
    "settings.blocklist_more": "…and {count} more: every term is in the attached file, one per line.",
    "settings.blocklist_empty": "No terms are blocked on this server.",
    "settings.channels_now": "Image commands now work in: {channels}.",
    "settings.all_channels": "every channel",
    "settings.role_set": "Members now need the {role} role to use image commands.",
    "settings.role_cleared": "No role is needed to use image commands any more.",
    "settings.approval_on": "Approval mode is on: requests go to {channel} and wait for a moderator.",
    "settings.approval_off_waiting": (
        "Approval mode is off: requests are generated right away. {count} {count:request asked before still waits|"
        "requests asked before still wait} for a moderator in {channel}, to be approved or rejected there."
    ),
    "settings.approval_off": "Approval mode is off: requests are generated right away.",
    "settings.approval_needs_channel": "Choose the moderators' channel to turn approval mode on.",
    "settings.defaults_saved": "Server defaults saved.",
    "settings.defaults_unchanged": "Nothing was changed: choose a model, a size or the watermark, or reset. The defaults now:",
    "settings.reset_alone": "`reset` forgets every default of the server: use it alone, then set what you want.",
    "settings.size_cleared": (
        "The default size {size} was cleared: {model} does not make it, so requests get that model's own size."
    ),
    "settings.size_not_used": "{size} (not used: {model} does not make it)",
    "settings.model_not_offered": "{model} (not offered by this gateway: requests use {default})",
    "settings.show_title": "**Image settings for this server**",
    "settings.show_channels": "Channels: {channels}",
    "settings.role_deleted": "a deleted role: every member is refused until you choose another",
    "settings.show_role": "Required role: {role}",
    "settings.show_approval": "Approval mode: {approval}",
    "settings.show_terms": "Blocked terms: {count} (see `/blocklist list`)",
    "settings.show_defaults": "Defaults: model {model}, size {size}, watermark {watermark}",
    "settings.none": "none",
    "settings.off": "off",
    "settings.on": "on",
    "settings.on_in": "on, in {channel}",
    "settings.bot_default": "the bot's default ({value})",
    # errors (members' terms; details go to the log)
    "error.invalid_option": "That {option} can't be used: {detail}",
    # refused options: "option.name.<option>" fills {option}, "option.<option>.<reason>" fills {detail}
    "option.name.size": "size",
    "option.name.seed": "seed",
    "option.name.count": "number of images",
    "option.name.images": "number of reference images",
    "option.name.prompt": "prompt",
    "option.name.model": "model",
    "option.name.guidance_scale": "guidance scale",
    "option.size.not_a_size": "`{value}` is not a size; {model} takes {allowed}.",
    "option.size.gateway_refused": "the image service refused {value} ({said}); {model} takes {allowed}. You were not charged.",
    "option.size.not_accepted": "{value} is not one of the sizes {model} takes: {allowed}.",
    "option.size.empty": "{value} has a side of 0; {model} takes {allowed}.",
    "option.size.side_too_small": "{value} has a side under {limit} px; {model} takes {allowed}.",
    "option.size.side_too_large": "{value} has a side over {limit} px; {model} takes {allowed}.",
    "option.size.too_few_pixels": "{value} has {pixels} pixels, fewer than {limit}; {model} takes {allowed}.",
    "option.size.too_many_pixels": "{value} has {pixels} pixels, more than {limit}; {model} takes {allowed}.",
    "option.size.not_multiple": "{value} has a side that is not a multiple of {multiple} px; {model} takes {allowed}.",
    "option.size.too_wide": (
        "{value} is more than {ratio} times as long on one side as on the other; {model} takes {allowed}."
    ),
    "sizes.wxh_sides": "WxH with each side {min} to {max} (e.g. {example})",
    "sizes.wxh_pixels": "WxH between {min} and {max} pixels (e.g. {example})",
    "list.separator": ", ",
    "list.or_two": "{first} or {last}",
    "list.or_more": "{first}, or {last}",
    "option.seed.not_supported": "{model} does not take a seed.",
    "option.seed.out_of_range": "The seed must be a whole number from {min} to {max}.",
    "option.guidance_scale.not_supported": "{model} does not take a guidance scale.",
    "option.guidance_scale.out_of_range": "The guidance scale must be {min} to {max}.",
    "option.images.none_taken": "{model} takes no reference images.",
    "option.images.needs_edit": "{model} changes images rather than drawing them: use /edit and attach the image to change.",
    "option.images.exactly": "{model} needs exactly {max} reference {max:image|images}.",
    "option.images.out_of_range": "{model} takes {min} to {max} reference images (you gave {count}).",
    "option.count.out_of_range": "Choose {min} to {max} images.",
    "option.count.series_not_supported": "{model} cannot make a series; pick Seedream 4.0 or newer.",
    "option.count.series_range": "A series has {min} to {max} images.",
    "option.count.series_range_with_references": (
        "A series has {min} to {max} images with {references} reference {references:image|images}."
    ),
    "option.prompt.empty": "The prompt is empty; describe the image you want.",
    "option.prompt.broken": "The prompt has a broken character (half of one, which is not text); type it again.",
    "option.prompt.too_long": "Prompts are limited to {limit} characters (this one has {length}).",
    "option.model.not_offered": "`{value}` is not offered here; choose {choices}.",
    "error.quota.daily_images.reached": (
        "You have reached your daily limit of {limit} {limit:image|images} ({used} made or held for requests in "
        "progress, this asks for {requested}). "
        "It resets {resets}."
    ),
    "error.quota.daily_images.past": (
        "This would take you past your daily limit of {limit} {limit:image|images} ({used} made or held for requests "
        "in progress, this asks for {requested}). "
        "Ask for fewer, or wait until it resets {resets}."
    ),
    "error.quota.daily_images.too_big": (
        "This asks for {requested} images, more than your daily limit of {limit} allows on any day. Ask for fewer."
    ),
    "error.quota.daily_images.none": (
        "Your daily limit is 0 images: you cannot make images in this server. Ask an admin if that is a mistake."
    ),
    "error.quota.monthly_usd.reached": (
        "You have reached your monthly limit of {limit} ({used} spent or held for requests in progress, "
        "this needs {requested}). It resets {resets}."
    ),
    "error.quota.monthly_usd.past": (
        "This would take you past your monthly limit of {limit} ({used} spent or held for requests in progress, "
        "this needs {requested}). Ask for fewer images, or wait until it resets {resets}."
    ),
    "error.quota.monthly_usd.too_big": (
        "This needs {requested}, more than your monthly limit of {limit} allows in any month. "
        "Ask for fewer images or a cheaper model."
    ),
    "error.quota.monthly_usd.too_big_one": (
        "One image of this model costs {requested}, more than your monthly limit of {limit} allows in any month. "
        "Choose a cheaper model if there is one, or ask an admin to raise your limit."
    ),
    "error.quota.monthly_usd.none": (
        "Your monthly limit is {limit}: you cannot make images in this server. Ask an admin if that is a mistake."
    ),
    "error.quota.guild_budget.reached": (
        "This server's monthly image budget of {limit} is used up ({used} spent or held for requests in progress, "
        "this needs {requested}). It resets {resets}."
    ),
    "error.quota.guild_budget.past": (
        "This would take the server past its monthly image budget of {limit} ({used} spent or held for requests "
        "in progress, this needs {requested}). Ask for fewer images, or wait until it resets {resets}."
    ),
    "error.quota.guild_budget.too_big": (
        "This needs {requested}, more than this server's whole monthly image budget of {limit}. "
        "Ask for fewer images or a cheaper model."
    ),
    "error.quota.guild_budget.too_big_one": (
        "One image of this model costs {requested}, more than this server's whole monthly image budget of {limit}. "
        "Choose a cheaper model if there is one, or ask an admin to raise the budget."
    ),
    "error.quota.guild_budget.none": (
        "This server's monthly image budget is {limit}: no images can be made here until an admin raises it."
    ),
    "error.content_filter": (
        "The content filter refused this request. Please rephrase your prompt or use other images. "
        "You were not charged."
    ),
    "error.busy": "The image service is busy right now. Please try again in a minute. You were not charged.",
    "error.timeout": "The image service took too long to answer. Please try again later. You were not charged.",
    "error.unreachable": (
        "The bot could not reach the image service, or the connection broke. Please try again in a minute. "
        "You were not charged."
    ),
    "error.misconfigured": (
        "The bot is not set up correctly for image generation. A server admin must check the bot's "
        "configuration. You were not charged."
    ),
    "error.no_access": (
        "The bot's image account cannot use this model right now. A server admin must check the bot. "
        "You were not charged."
    ),
    "error.unknown_model": (
        "The image service does not know this model. Pick another one, or ask a server admin to check the "
        "bot's configuration. You were not charged."
    ),
    "error.bad_request": "The image service refused the request: {detail}\nYou were not charged.",
    "error.bad_request_plain": "The image service refused the request. You were not charged.",
    "error.bad_response": (
        "The image service sent an answer the bot could not use. Please try again later. "
        "You were not charged for images you did not get."
    ),
    "error.attachment": "The attachment `{name}` {reason}",
    "error.attachment_at": "Image {position} (`{name}`) {reason}",
    "error.attachment_missing": "Attach at least one image.",
    "error.series_prompt_too_long": (
        "Your prompt has {length} characters; with the sentence /series adds to ask for {count} images "
        "({extra} more) it would be over the limit of {limit}. Shorten it by {over} characters, or say in the "
        "prompt how many images you want (e.g. \"{count} images\"). You were not charged."
    ),
    "error.delivery": (
        "The images were made but could not be posted to Discord. You were not charged for images you did "
        "not get."
    ),
    "error.unexpected": "Something went wrong on the bot's side. It has been logged. You were not charged.",
    "error.not_a_member": "{member} is not a member of this server.",
    "error.bad_value": "`{value}` cannot be used here; please choose again.",
    "error.guild_only": "This command works only in a server.",
    "error.admin_only": "Only members with the Manage Server permission can do this.",
    "error.moderator_only": "Only moderators can do this.",
    # reference images (attachments): each completes "The attachment `name` ..."
    "attachment.not_image": "is not an image.",
    "attachment.corrupt": "is a damaged image file.",
    "attachment.unsupported_format": "is in an image format that can't be used; use PNG, JPEG, WebP, BMP, TIFF or GIF.",
    "attachment.too_large_bytes": "is {size} MB; the limit is {limit} MB.",
    "attachment.over_size_limit": "is over the {limit} MB limit.",
    "attachment.too_large_converted": (
        "would be over {limit} MB once converted to a format this model takes; use a smaller PNG or JPEG."
    ),
    "attachment.too_small": "is {width}x{height} pixels; each side must be at least 15 px.",
    "attachment.too_large_pixels": "is {width}x{height} pixels; the largest allowed is 6000x6000.",
    "attachment.bad_aspect": "is {width}x{height} pixels; the aspect ratio must be between 1:16 and 16:1.",
    "attachment.bad_dimensions_sized": (
        "is {width}x{height} pixels; each side must be 15 to 6000 px and the aspect ratio between 1:16 and 16:1."
    ),
    "attachment.bad_dimensions": (
        "has dimensions that can't be used: each side must be 15 to 6000 px and the aspect ratio between "
        "1:16 and 16:1."
    ),
    "attachment.not_from_discord": "is not a file stored on Discord, so it was not used.",
    "attachment.download_failed": "could not be downloaded from Discord. Please try again.",
    "attachment.gone": "is no longer on Discord (its message was deleted). Nothing was made.",
    "error.no_images_in_message": "That message has no images to edit. Pick a message with image attachments.",
    # "Edit with Seedream" (message context menu)
    "edit.modal_title": "Edit with Seedream",
    "edit.modal_prompt": "What to change",
    "edit.modal_placeholder": "e.g. turn it into a watercolor painting",
    "edit.images_left_out": "Only the first {used} of the message's {total} images will be used: no model here takes more than {used}.",
    "edit.message_gone": "That message can no longer be read (deleted, or out of the bot's reach). Use the menu on it again, or /edit.",
    # buttons under a result
    "buttons.reroll": "Re-roll",
    "buttons.variation": "Variation",
    "buttons.upscale": "Upscale",
    "buttons.delete": "Delete",
    "buttons.not_yours": "Only the member who asked for this image can use this button.",
    "buttons.delete_not_allowed": "Only the member who asked for this image or a moderator can delete it.",
    "buttons.request_gone": (
        "The request behind this image is no longer in the bot's records, so this button can't be used. "
        "Use /imagine to start again."
    ),
    "buttons.image_gone": (
        "The images of this result are no longer in this channel, so there is nothing to make a variation of. "
        "Attach an image to /edit to start from it."
    ),
    "buttons.upscale_image_gone": (
        "The images of this result are no longer in this channel, and it was made from reference images "
        "the bot does not keep, so it can't be upscaled. Attach an image to /edit to start again."
    ),
    "buttons.needs_references": (
        "This image was made from reference images the bot does not keep, so it can't be made again. "
        "Use Variation to start from this image."
    ),
    "buttons.model_gone": "The model that made this image (`{model}`) is no longer offered here, so it can't be made again. Use /imagine to choose another.",
    "buttons.already_running": "That is already on its way: the same button's request is waiting or running.",
    "buttons.already_largest": (
        "This image is already as large as {model} makes them, so Upscale would only make it again. "
        "Nothing was charged."
    ),
    "buttons.upscale_which": "Which image should be upscaled? Each upscale is a new request for one image.",
    "buttons.upscale_placeholder": "Choose an image to upscale",
    "buttons.upscale_option": "Image {number}",
    "buttons.upscale_chosen_gone": "Image {number} of this result is no longer in this channel, so it can't be upscaled. Nothing was charged.",
    "buttons.deleted": "Deleted.",
    "buttons.delete_forbidden": (
        "Discord does not let the bot delete messages here (it cannot see this channel or thread). "
        "Ask a moderator to delete the result, or an admin to let the bot see the channel."
    ),
    "buttons.variation_title": "Variation of this image",
    "buttons.variation_prompt": "Prompt",
    "buttons.variation_image": "Which image ({first} to {last})",
    "buttons.no_such_image": "This result has images {numbers}; choose one of them.",
    "buttons.number_separator": ", ",
    "buttons.image_range": "{first} to {last}",
    # queue and shutdown
    "queue.position": "Queued: position {position}, about {wait} until it starts.",
    "queue.wait_seconds": "{count} s",
    "queue.wait_minutes": "{count} min",
    "queue.cancel_button": "Cancel",
    "queue.cancel_not_yours": "Only the member who asked for these images can cancel them.",
    "queue.cancel_too_late": "This request is no longer waiting in the queue, so it can't be cancelled.",
    "queue.cancel_running": "This request is no longer waiting: it is being made now, so it can't be cancelled.",
    "queue.cancel_ran": "This request is no longer waiting: it was made, and its images were posted in this channel.",
    "queue.cancel_ended": "This request is no longer waiting: it ended without images. You were not charged.",
    "queue.cancel_restarted": (
        "This request was stopped when the bot restarted, so there is nothing to cancel. You were not charged."
    ),
    "queue.member_busy": (
        "You already have {limit} {limit:request|requests} waiting or running. Please wait until {limit:it|one of them} "
        "finishes, or press Cancel on {limit:it if it is|one that is} waiting."
    ),
    "queue.restarting": "The bot is restarting; please try again in a minute.",
    "queue.withdrawn.approval_on": (
        "Approval mode was turned on while this waited, so it was withdrawn before it started: a moderator "
        "must see requests first. You were not charged; ask again to send it to them."
    ),
    "queue.withdrawn.cancelled": "Cancelled. You were not charged.",
    "queue.withdrawn.channel_gone": "This channel was deleted, so the request was withdrawn before it started. You were not charged.",
    "queue.withdrawn.cannot_post": (
        "The bot can no longer post here, so the request was withdrawn before it started. You were not charged."
    ),
    "queue.withdrawn.shutdown": (
        "The bot is restarting, so this request was withdrawn before it started. You were not charged; "
        "please try again in a minute."
    ),
    "queue.stopped": (
        "The bot is restarting, so this request was stopped. You were not charged for images you did not "
        "get; please try again in a minute."
    ),
    "queue.stopped_delivered_unpriced": (
        "The bot is restarting, so this request was stopped: {delivered} of {requested} {requested:image|images} reached you "
        "(no price is set for this model, so what {delivered:it costs|they cost} is not known); the rest were not charged."
    ),
    "queue.stopped_delivered": (
        "The bot is restarting, so this request was stopped: {delivered} of {requested} {requested:image|images} reached you "
        "and you were charged {charged} for {delivered:it|them}; the rest were not charged."
    ),
    "stage.generating": "Generating {count} {count:image|images} with {model}… ({elapsed} s)",
    "stage.uploading": "Sending {count} {count:image|images} to Discord… ({elapsed} s)",
    # quotas and budgets (/quota, /budget)
    "error.bad_amount": "`{value}` is not a dollar amount. Write it like 5 or 12.50.",
    "error.amount_too_large": "`{value}` is more than {limit}, the most a quota or budget can be.",
    "error.amount_too_fine": (
        "`{value}` is not a dollar amount the books can keep: write at most 6 decimal places "
        "(they count micro-dollars, $0.000001)."
    ),
    "quota.bad_amount": (
        "`{value}` is not a dollar amount. Write it like 5 or 12.50; to remove the monthly setting, use the "
        "`clear` option (or write `off`); for no limit at all, make a role exempt with `/quota exempt`."
    ),
    "quota.need_target": "Choose either a member or a role (one of them).",
    "quota.need_value": "Give a daily image quota, a monthly USD limit, or choose what to clear.",
    "quota.clear_with_values": "Either set values or clear them, not both at once.",
    "quota.saved": "Quota of {target} saved: {new} (before: {old}).",
    "quota.daily": "{count} {count:image|images} a day",
    "quota.monthly": "{amount} a month",
    "quota.exempt_flag": "exempt (unlimited)",
    "quota.nothing": "no setting",
    "quota.unlimited": "unlimited",
    "quota.exempt_saved": (
        "{target} is now exempt from quotas: its members have no daily or monthly limit from the server or their "
        "roles. A limit set for one member still applies to that member."
    ),
    "quota.exempt_removed": "{target} is no longer exempt; its quota settings apply again.",
    "quota.exempt_already": "{target} is already exempt from quotas; nothing changed.",
    "quota.exempt_not_exempt": "{target} is not exempt from quotas; nothing changed.",
    "quota.show.title_member": "Effective quotas of {target}",
    "quota.show.title_role": "Quota settings of {target}",
    "quota.show.title_server": "Quota settings in this server",
    "quota.show.daily": "Daily images: {value} (from: {source})",
    "quota.show.monthly": "Monthly limit: {value} (from: {source})",
    "quota.show.budget": "Server budget: {value} (from: {source})",
    "quota.show.own": "The member's own setting: {value}",
    "quota.show.everyone_note": "A setting on @everyone is the server's default for every member.",
    "quota.show.defaults": "Bot defaults (.env): images a day: {daily}; a month: {monthly}",
    "quota.show.rule": "· {target}: {rule}",
    "quota.show.none": "No member or role settings yet; the bot defaults apply.",
    "quota.show.more": "…and {count} more.",
    "quota.show.deleted_roles": "Removed the settings of {count} deleted {count:role|roles}: nobody can have {count:that role|those roles} any more.",
    "quota.source.member": "the member's own setting",
    "quota.source.role": "role {role}, the most generous of the member's roles",
    "quota.source.exempt": "role {role} is exempt",
    "quota.source.server": "the server default (@everyone)",
    "quota.source.default": "the bot default (.env)",
    "quota.precedence": (
        "Order: the member's own setting, then the most generous of their roles (an exempt role means "
        "unlimited), then the server default (@everyone), then the bot default."
    ),
    "budget.source.server": "set with /budget",
    "budget.source.default": "the bot default (.env)",
    "budget.saved": "The server's monthly budget is now {amount} (before: {old}).",
    "budget.removed": "The server's budget setting is removed; the bot default applies: {fallback}.",
    "budget.warn_cannot_post": (
        "The bot cannot post in {channel} (it needs to see the channel and send messages there), so the "
        "budget warning would never arrive. Give it those permissions, or choose another channel."
    ),
    "budget.warn_without_amount": "A warning needs a budget. Give an amount to warn about.",
    "budget.warning_at": "A warning goes to {channel} when {percent}% of the budget is spent.",
    "budget.no_warning": "No budget warning is set.",
    "budget.warning_channel_gone": (
        "The warning at {percent}% of the budget cannot arrive: its channel was deleted. "
        "Choose another with `/budget set`, giving the amount again and `warn_channel`."
    ),
    "budget.show.title": "Server budget",
    "budget.show.spent": "Spent this month: {spent}",
    "budget.show.spent_of": "Spent this month: {spent}, left: {left}",
    "budget.show.changes": "Recent changes:",
    "budget.change.none": "no budget of its own",
    "budget.change.amount": "{amount} a month",
    "budget.change.amount_warn": "{amount} a month, warning at {percent}% in {channel}",
    "budget.month": "{year}-{month:02d}",
    "budget.warning": (
        "⚠️ This server has spent {spent} of its monthly image budget of {budget} in {month} (UTC): the "
        "{percent}% warning threshold is reached."
    ),
    "budget.exhausted": (
        "⚠️ This server has spent {spent} of its monthly image budget of {budget} in {month} (UTC): less than one "
        "image's price is left, so image requests are refused until the month ends or an admin raises the budget "
        "with /budget set."
    ),
    "audit.line": "{when} {actor}: {old} → {new}",
    # reports (/spend, /history)
    "spend.title.day": "Spend today ({start}, UTC)",
    "spend.title.week": "Spend in the last 7 days ({start} to {end}, UTC)",
    "spend.title.month": "Spend this month ({start} to {end}, UTC)",
    "spend.member": "Member: {member}",
    "spend.empty": "Nothing was requested in this period.",
    "spend.total": "Total spend: {total} (charged to members for delivered images: {charged})",
    "spend.images": "Images billed: {billed}, delivered: {delivered}",
    "spend.in_progress_unpriced": (
        "Still in progress: {count} {count:request|requests} of models without a price set, in the total only "
        "once {count:it ends|they end}."
    ),
    "spend.in_progress": (
        "Still in progress: {count} {count:request|requests} holding {held}, in the total only once "
        "{count:it ends|they end}."
    ),
    "spend.requests": "Requests: {count} ({refused} refused before anything was spent, {released} with nothing generated)",
    "spend.by_model": "Per model:",
    "spend.top_members": "Top members:",
    "spend.share": "· {name}: {amount} ({images} {images:image|images})",
    "spend.share_charged": "· {name}: {amount} ({images} {images:image|images}; charged {charged})",
    "spend.others": "others",
    "spend.no_chart": "No chart: the bot needs matplotlib for it (the `charts` extra).",
    "spend.reserved": "Of which {amount} is held for requests in progress (spent when they deliver, given back if not).",
    "spend.csv_too_large": "The CSV is too large for Discord even compressed: choose a shorter period or one member.",
    "history.title_member": "Latest requests of {member}",
    "history.title_server": "Latest requests in this server",
    "history.empty": "No requests yet.",
    "history.cost_split": "{cost} (charged {charged})",
    "history.cost_held": "{held} held",
    "history.cost_unknown": "cost not known (no price set)",
    "history.line": "`#{id}` {when} {member} · {model} · {status} · {cost} · {prompt}",
    "history.status.settled": "delivered {delivered} of {requested}",
    "history.status.released": "nothing generated ({reason})",
    "history.status.refused": "refused ({reason})",
    "history.status.pending": "in progress",
    "history.reason.approval_on": "approval mode turned on while it waited",
    "history.reason.cancelled": "cancelled",
    "history.reason.shutdown": "the bot restarted",
    "history.reason.nothing_generated": "the service made none",
    "history.reason.not_started": "failed before it started",
    "history.reason.not_acknowledged": "Discord refused the reply",
    "history.reason.channel_gone": "its channel was deleted",
    "history.reason.cannot_post": "the bot could not post there",
    "history.reason.daily_images": "daily image limit",
    "history.reason.monthly_usd": "monthly limit",
    "history.reason.guild_budget": "server budget",
    "history.reason.blocked_term": "blocked term",
    "history.reason.wrong_channel": "not allowed in that channel",
    "history.reason.role_required": "role required",
    "history.reason.timeout": "the service took too long",
    "history.reason.content_filter": "content filter",
    "history.reason.interrupted": "the bot stopped while it ran",
    "history.reason.delivery_failed": "Discord refused the images",
    "history.reason.busy": "the service was busy",
    "history.reason.unreachable": "the service could not be reached",
    "history.reason.bad_answer": "the service's answer was unusable",
    "history.reason.setup": "the service refused the bot's setup",
    "history.reason.other": "the service failed: {code}",
    "history.decision": "  ↳ {action} by {actor} {when}",
    "history.action.request.approved": "approved",
    "history.action.request.rejected": "rejected",
    "history.action.request.approval_failed": "approved, but could not run",
    "history.only_own": "You can see only your own requests. Moderators can see everyone's.",
    "history.more": "…and {count} older {count:one|ones} that do not fit here.",
    "history.approval_line": "`approval #{id}` {when} {member} · {model} · {count} {count:image|images} · {status} · {prompt}",
    "history.approval.pending": "waiting for a moderator's approval",
    "history.approval.approved": "approved by {moderator} {when}",
    "history.approval.rejected": "rejected by {moderator} {when}, nothing charged",
    "history.approval.unposted": "never decided (its review message could not be posted, or was removed), nothing charged",
    "history.approval.failed": "approved by {moderator} {when} but could not run, nothing charged",
}
