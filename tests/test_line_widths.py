"""The one-row counts of the screens, at 80x24: French plurals (never « (s) »), and whole even with
thousands of invoices and millions of euros (measured against the width of their widget)."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Static

from tests.test_contributions import SEPTEMBER, open_september_sending_tab, panel
from tests.test_screens import home_read
from tuiapp.app import create_app
from tuiapp.db import queries
from tuiapp.db.database import db
from tuiapp.db.models import Resident, Structure
from tuiapp.domain.periods import Period
from tuiapp.screens.contributions import ContributionsScreen
from tuiapp.screens.residents import SHOWN_AT_MOST, ResidentsScreen
from tuiapp.screens.sending import SendingPanel

SIZE = (80, 24)
OCTOBER = Period(2024, 10)


async def shown_whole(pilot, selector: str, text: str) -> str:
    """``text`` put in the widget: it must fit in one row of its content."""
    line = pilot.app.screen.query_one(selector, Static)
    line.display = True
    line.update(text)
    await pilot.pause()
    assert str(line.render()) == text
    assert "(s)" not in text
    assert len(text) <= line.content_region.width, f"{len(text)} > {line.content_region.width}: {text}"
    return text


async def test_the_sending_tab_summary(demo_db_file):
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_september_sending_tab(pilot)
            await pilot.pause()
            summary = SendingPanel.summary_text
            assert await shown_whole(pilot, "#send-summary", summary(1234, 1234, Decimal("2345678.90"), 1234)) == (
                "1234 factures cochées sur 1234 (2\u00a0345\u00a0678,90\u00a0€ HT), dont 1234 PDF importés")
            assert await shown_whole(pilot, "#send-summary", summary(1, 1, Decimal("12.5"), 1)) == (
                "1 facture cochée sur 1 (12,50\u00a0€ HT), dont 1 PDF importé")
            assert summary(0, 3, Decimal(0), 0) == "0 facture cochée sur 3 (0,00\u00a0€ HT)"
            sending = panel(app)
            sending.update_summary()
            expected = summary(len(sending.table.ticked), len(sending.table.invoices), sending.table.ticked_total(), 0)
            assert str(sending.query_one("#send-summary").render()) == expected  # the tab's own
            assert expected.startswith("102 factures cochées sur 102 (")
    finally:
        db.close()


async def test_the_factures_tab_counts_and_the_sends_followed(demo_db_file):
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("c", "minus")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ContributionsScreen)
            assert str(screen.query_one("#summary", Static).render()) == (
                "125 factures : 102 par e-mail (0 envoyée), 23 à imprimer")
            big = queries.PeriodOverview(SEPTEMBER, invoices=1246, to_mail=1234, without_address=12,
                                         mailed=1234, credit_notes=12)
            screen._show_overview(big)
            assert await shown_whole(pilot, "#summary", str(screen.query_one("#summary", Static).render())) == (
                "1234 factures et 12 avoirs : 1234 par e-mail (1234 envoyées), 12 à imprimer")
            one = queries.PeriodOverview(SEPTEMBER, invoices=2, to_mail=1, without_address=1, mailed=1, credit_notes=1)
            screen._show_overview(one)
            assert str(screen.query_one("#summary", Static).render()) == (
                "1 facture et 1 avoir : 1 par e-mail (1 envoyée), 1 à imprimer")

            sends = ContributionsScreen.sends_text
            assert await shown_whole(pilot, "#send-state", sends([(SEPTEMBER, 1234, 1234)])) == (
                "Envoi en cours : 1234 factures traitées sur 1234 (septembre 2024).")
            assert sends([(SEPTEMBER, 1, 4)]) == "Envoi en cours : 1 facture traitée sur 4 (septembre 2024)."
            assert sends([(SEPTEMBER, 0, 0)]) == "Envoi en cours : en préparation (septembre 2024)."
            assert await shown_whole(pilot, "#send-state", sends([(SEPTEMBER, 1234, 1234), (OCTOBER, 1234, 1234)])) == (
                "Envois en cours : septembre 2024 1234/1234 ; octobre 2024 1234/1234.")
            assert await shown_whole(pilot, "#send-state", sends([(SEPTEMBER, 1234, 1234), (OCTOBER, 0, 0)])) == (
                "Envois en cours : septembre 2024 1234/1234 ; octobre 2024 en préparation.")
    finally:
        db.close()


async def test_the_home_counts_in_singular_and_plural(demo_db_file):
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await home_read(pilot)
            counts = app.screen.query_one("#counts", Static)
            first = str(counts.render()).splitlines()[0]
            structures, residents = Structure.select().count(), Resident.select().where(Resident.active).count()
            assert structures > 1 and residents > 1
            assert first == f"{structures} structures, {residents} résidents actifs"
            keep = Resident.select(Resident.id).where(Resident.active).limit(1).scalar()
            Resident.update(active=False).where(Resident.id != keep).execute()
            app.screen.refresh_overview()
            assert str(counts.render()).splitlines()[0] == f"{structures} structures, 1 résident actif"
            assert len(first) <= counts.content_region.width
    finally:
        db.close()


async def test_the_residents_count_and_the_import_file_state(demo_db_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = create_app(demo_db_file)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("r")
            await pilot.pause()
            assert isinstance(app.screen, ResidentsScreen)
            count = ResidentsScreen.count_text
            assert str(app.screen.query_one("#count", Static).render()) == (
                "132 résidents ; 23 sans adresse e-mail parmi les affichés")
            assert await shown_whole(pilot, "#count", count(SHOWN_AT_MOST, SHOWN_AT_MOST)) == (
                f"{SHOWN_AT_MOST} résidents ; {SHOWN_AT_MOST} sans adresse e-mail parmi les affichés")
            assert await shown_whole(pilot, "#count", count(1234, SHOWN_AT_MOST)) == (
                f"1234 résidents, {SHOWN_AT_MOST} affichés (affinez : /), dont {SHOWN_AT_MOST} sans adresse e-mail")
            assert count(1, 0) == "1 résident ; 0 sans adresse e-mail parmi les affichés"
            await pilot.press("escape", "i")
            await pilot.pause()
            assert type(app.screen).__name__ == "ImportScreen"
            await shown_whole(pilot, "#file-state", "1234 lignes de données, 1234 colonnes.")
    finally:
        db.close()
