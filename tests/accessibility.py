"""What the browser tests check on every page they visit: axe-core finds no serious or critical
violation, and the page never scrolls sideways on a phone. axe-core is the npm package in
tests/a11y (`npm ci --prefix tests/a11y`, a prerequisite of `make test` and `make e2e`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = 1280
PHONE = 390
WIDTHS = (DESKTOP, PHONE)
BLOCKING = ("serious", "critical")

# The page's CSP forbids inline scripts, so axe is evaluated through the DevTools protocol
# (which the CSP does not govern) rather than added as a <script> tag.
_RUN = """async (blocking) => {
  const result = await window.axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => blocking.includes(v.impact))
    .flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(" ")}`));
}"""


def axe_violations(page: Any) -> list[str]:
    """The serious and critical violations axe-core finds, as `rule (impact): target`."""
    if not AXE.exists():
        raise AssertionError(f"no axe-core at {AXE}: run `npm ci --prefix tests/a11y`")
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    return page.evaluate(_RUN, list(BLOCKING))


def dangling_references(page: Any) -> list[str]:
    """`aria-describedby`, `aria-labelledby`, `aria-controls` and `<label for>` naming an id
    the page does not have (a help text or an error a screen reader would never hear)."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
              "[aria-describedby], [aria-labelledby], [aria-controls], label[for]")]
            .filter((el) => el.type !== "hidden")  // never exposed, so never read
            .flatMap((el) => ["aria-describedby", "aria-labelledby", "aria-controls", "for"]
              .flatMap((attr) => (el.getAttribute(attr) || "").split(/\\s+/).filter(Boolean)
                .filter((id) => !document.getElementById(id))
                .map((id) => `${el.tagName.toLowerCase()}[${attr}] -> #${id} is missing`)))"""
    )


def sideways_overflow(page: Any) -> int:
    """How many pixels wider than the window the page is (0 when it fits)."""
    return page.evaluate("Math.max(0, document.documentElement.scrollWidth - window.innerWidth)")


def page_problems(page: Any, name: str, screenshots: Path | None = None) -> list[str]:
    """What a person would stumble on at this step: axe's findings, references to ids that are
    not there, and sideways scrolling on a phone.
    With `screenshots`, a full-page screenshot of the step is kept there too."""
    width = page.viewport_size["width"]
    if screenshots is not None:
        screenshots.mkdir(parents=True, exist_ok=True)
        slug = "".join(c if c.isalnum() else "-" for c in name).strip("-")
        page.screenshot(path=str(screenshots / f"{width}px-{slug}.png"), full_page=True)
    found = axe_violations(page) + dangling_references(page)
    problems = [f"{name} @{width}px: {v}" for v in found]
    overflow = sideways_overflow(page)
    if width <= PHONE and overflow:
        problems.append(f"{name} @{width}px: scrolls sideways by {overflow}px")
    return problems
