"""The tenant's macros: listed by every agent, created, replaced and deleted by admins."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

from helpdesk.api.access import caller
from helpdesk.api.agent.common import created
from helpdesk.core.models import Macro
from helpdesk.platform import wiring
from helpdesk.replies.macros import MacroCreate, MacroSpec

router = Router()


@router.get("/macros")
def list_macros() -> list[Macro]:
    """The tenant's macros, by name."""
    return wiring.macro_library().by_name(caller(router).tenant_id)


@router.post("/macros", responses=created(Macro, "The new macro"))
def create_macro(spec: MacroCreate) -> tuple[Macro, int]:
    """A new macro (admin). Bodies are validated as templates now; `macro_id` is generated when left out."""
    me = caller(router).require_admin()
    return wiring.macro_library().create(me.tenant_id, spec), 201


@router.get("/macros/<macro_id>")
def get_macro(macro_id: str) -> Macro:
    """One macro."""
    return wiring.macro_library().get(caller(router).tenant_id, macro_id)


@router.put("/macros/<macro_id>")
def replace_macro(macro_id: str, spec: MacroSpec) -> Macro:
    """Replace a macro's name, bodies and tags (admin)."""
    me = caller(router).require_admin()
    return wiring.macro_library().replace(me.tenant_id, macro_id, spec)


@router.delete("/macros/<macro_id>")
def delete_macro(macro_id: str) -> tuple[dict[str, str], int]:
    """Delete a macro (admin). Replies already sent from it keep its id."""
    me = caller(router).require_admin()
    wiring.macro_library().delete(me.tenant_id, macro_id)
    return {"deleted": macro_id}, 200
