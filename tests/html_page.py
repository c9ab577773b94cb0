"""Reading the widget's HTML in tests with a real parser, not substring matches."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """The parts of a quiz page tests look at: inputs, texts by class, links, root ids."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []
        self.texts: dict[str, list[str]] = {}
        self.links: list[str] = []
        self.ids: list[str] = []
        self.buttons: list[str] = []
        self.root: dict[str, str] = {}  # the <html> element's attributes
        self._open: list[tuple[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "html":
            self.root = attributes
        if "id" in attributes:
            self.ids.append(attributes["id"])
        if tag == "input":
            self.inputs.append(attributes)
        if tag == "a" and "href" in attributes:
            self.links.append(attributes["href"])
        if tag in ("input", "img", "meta", "link", "br", "wbr"):
            return
        self._open.append((tag, attributes.get("class", "")))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            opened, _ = self._open.pop()
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text:
            return
        for tag, classes in self._open:
            for name in classes.split():
                self.texts.setdefault(name, []).append(text)
            if tag == "button":
                self.buttons.append(text)

    def value(self, name: str) -> str:
        return next(field["value"] for field in self.inputs if field.get("name") == name)

    def text(self, class_name: str) -> str:
        return " ".join(self.texts.get(class_name, []))

    def options(self) -> list[str]:
        return [field["value"] for field in self.inputs if field.get("name") == "a" and field.get("type") != "text"]

    def checked(self) -> list[str]:
        return [field["value"] for field in self.inputs if field.get("name") == "a" and "checked" in field]
