"""The board's screen: it owns the board's keys (``keys.BOARD``) and what each one does.

The App composes the rooms onto this screen (its default screen) and routes messages; the keys
are here, each handed to the room or controller that does the work:

- the columns' moves, the impact sort and the marks: :class:`~mosaic_tui.board.panes.kanban.Kanban`
  and :class:`~mosaic_tui.board.grooming.marks.MarkKeys`;
- status changes, reorder, priority, phase, labels, delete, copy: :class:`~mosaic_tui.board.grooming.groom.GroomKeys`
  (the one path of a status change, the drawn graph's too);
- undo / redo: :class:`~mosaic_tui.board.grooming.undo.UndoKeys`, through :class:`EverywhereKeys` (the drawn graph's too); ``$EDITOR``: :class:`~mosaic_tui.board.grooming.editor.EditorKeys`;
- the dialogs (detail, new, edit, dependencies, phase, graph): :class:`~mosaic_tui.board.actions.CardActions`;
- the filter line, the panes shown or hidden, the full screens (flow, activity, help): here.

Being the screen's bindings, the board's keys are live only while the board is on top: a dialog
or the drawn graph has its own (no guard needed), and the command palette offers the actions of
the screen on top (``KEY_TABLE``).
"""

from __future__ import annotations

from textual.screen import Screen

from mosaic_tui.board import keys


class EverywhereKeys:
    """The actions of the keys the table binds on every screen of ``keys.SCREENS`` (``keys.EVERYWHERE``:
    ``z`` undo, ``Z`` redo), for those screens to inherit: each hands its key to the controller that owns
    it, the board's :class:`~mosaic_tui.board.grooming.undo.UndoKeys`, so the drawn graph's ``z`` is the
    board's ``z``. On an app without that controller (a screen shown alone) they are off."""

    def everywhere(self, action: str) -> bool | None:
        """``check_action`` for these keys: None when the action is not one of them."""
        if action in ("undo", "redo"):
            return getattr(self.app, "undo_keys", None) is not None
        return None

    def action_undo(self) -> None:
        if self.everywhere("undo"):  # the palette does not ask check_action
            self.app.undo_keys.undo()

    def action_redo(self) -> None:
        if self.everywhere("redo"):
            self.app.undo_keys.redo()


class BoardScreen(EverywhereKeys, Screen):
    """The board (the App's default screen) and its keys."""

    BINDINGS = keys.bindings(keys.BOARD)  # from the one key table
    KEY_TABLE = keys.KEYS  # the palette and the help on this screen

    # -- the columns, the marks ------------------------------------------------------------
    def action_column(self, delta: int) -> None:
        self.app.kanban.move(delta)

    def action_sort_impact(self) -> None:
        self.app.kanban.sort_by_impact(not self.app.kanban.by_impact)

    def action_mark(self) -> None:
        self.app.mark_keys.toggle()

    def action_mark_column(self) -> None:
        self.app.mark_keys.mark_column()

    def action_clear_marks(self) -> None:
        self.app.mark_keys.clear()

    # -- grooming: status changes and the rest -------------------------------------------------
    def action_status(self, verb: str) -> None:
        """``b u c o r`` (block, unblock, complete, reopen, release)."""
        self.app.groom.status(verb)

    def action_block_reason(self) -> None:
        """``B``: block with a reason (asked for first)."""
        self.app.groom.block_with_reason()

    def action_move(self, direction: str) -> None:
        self.app.groom.move(direction)

    def action_priority(self, delta: int) -> None:
        self.app.groom.priority(delta)

    def action_set_phase(self) -> None:
        self.app.groom.set_phase()

    def action_relabel(self) -> None:
        self.app.groom.relabel()

    def action_delete(self) -> None:
        self.app.groom.delete()

    def action_copy_ids(self) -> None:
        self.app.groom.copy()

    def action_editor(self) -> None:
        self.app.editor.edit()

    # -- dialogs -----------------------------------------------------------------------------
    def action_detail(self) -> None:
        self.app.actions.detail()

    def action_note(self) -> None:
        self.app.actions.note()

    def action_new(self) -> None:
        self.app.actions.new()

    def action_edit(self) -> None:
        self.app.actions.edit()

    def action_link(self) -> None:
        self.app.actions.link()

    def action_unlink(self) -> None:
        self.app.actions.unlink()

    def action_phase(self) -> None:
        self.app.actions.phase()

    def action_graph(self) -> None:
        self.app.actions.graph()

    # -- the filter line and the saved views ---------------------------------------------------
    def action_filter(self) -> None:
        self.app.filter_bar.open(self.app.refresher.scope.filter_text())

    def action_views(self) -> None:
        self.app.view_keys.picker()

    def action_view(self, n: int) -> None:
        self.app.view_keys.nth(n)

    def _close_filter(self) -> None:
        self.app.filter_bar.close()
        self.app.kanban.focus_board()

    def on_key(self, event) -> None:
        if event.key == "escape" and self.focused is self.app.filter_box:
            event.stop()
            self._close_filter()

    # -- panes and full screens --------------------------------------------------------------
    def action_toggle(self, pane: str) -> None:
        """Show or hide a pane (``a``: the agents); the board takes the focus back when it hides."""
        if not self.query_one(f"#{pane}").toggle():
            self.app.kanban.focus_board()

    def action_flow(self) -> None:
        from mosaic_tui.board.screens.flow import FlowScreen

        app = self.app
        app.push_screen(FlowScreen(app.backlog, notices=app.refresher.notices, clock=app.clock))

    def action_activity(self) -> None:
        from mosaic_tui.board.screens.timeline import TimelineScreen

        self.app.push_screen(TimelineScreen(self.app.backlog, notices=self.app.refresher.notices))

    def action_help(self) -> None:
        from mosaic_tui.board.screens.dialogs import HelpScreen

        self.app.push_screen(HelpScreen())

    def action_quit(self) -> None:
        self.app.exit(0)
