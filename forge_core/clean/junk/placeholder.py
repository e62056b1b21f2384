"""Placeholder text: lorem ipsum and its kin, the filler of templates and mock-ups."""

from __future__ import annotations

import re

import polars as pl
from pydantic import Field

from forge_core.section import Section
from forge_core.steps import StepResult, apply_rules

REASONS = {"placeholder_text": "mostly lorem-ipsum filler words"}

# The words of the standard passage (Cicero, scrambled) and of the common generators' extensions.
LOREM = frozenset(
    """lorem ipsum dolor sit amet consectetur consectetuer adipiscing adipisicing elit sed do eiusmod tempor
    incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris
    nisi aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum eu fugiat
    nulla pariatur excepteur sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id
    est laborum vestibulum ante primis faucibus orci luctus ultrices posuere cubilia curae donec maecenas nunc
    nibh mauris vitae justo pellentesque habitant morbi tristique senectus netus malesuada fames ac turpis
    egestas integer aenean vel eros quisque tincidunt lectus nec lacus suspendisse potenti praesent nam libero
    tortor mi etiam dui sapien erat volutpat curabitur ligula semper feugiat fusce massa viverra phasellus
    dignissim pretium proin sagittis cras risus vivamus eget augue ultricies sem porta nisl urna rutrum
    interdum purus sollicitudin accumsan aliquam quam odio leo porttitor arcu bibendum mattis ornare felis
    vulputate hendrerit lobortis convallis blandit condimentum facilisis fermentum gravida iaculis imperdiet
    lacinia laoreet metus molestie nullam pharetra pulvinar rhoncus scelerisque tellus tempus tincidunt
    varius venenatis vehicula euismod efficitur elementum congue commodo auctor at a
    sed ut perspiciatis unde omnis iste natus error voluptatem accusantium doloremque laudantium totam rem
    aperiam eaque ipsa quae ab illo inventore veritatis quasi architecto beatae vitae dicta explicabo nemo
    ipsam quia voluptas aspernatur aut odit fugit consequuntur magni dolores eos ratione sequi nesciunt neque
    porro quisquam dolorem adipisci numquam eius modi tempora incidunt magnam quaerat voluptatem minima
    nostrum exercitationem ullam corporis suscipit laboriosam aliquid commodi consequatur autem vel eum iure
    quam nihil molestiae illum quo voluptatum deleniti atque corrupti quos quas molestias excepturi
    occaecati cupiditate provident similique mollitia animi dolorum fuga harum quidem rerum facilis expedita
    distinctio nam libero tempore cum soluta nobis eligendi optio cumque impedit minus maxime placeat facere
    possimus assumenda repellendus temporibus quibusdam officiis debitis necessitatibus saepe eveniet
    voluptates repudiandae recusandae itaque earum hic tenetur sapiente delectus reiciendis voluptatibus
    maiores alias perferendis doloribus asperiores repellat accusamus iusto odio dignissimos ducimus
    blanditiis praesentium fugiat quo doloremque alias ipsum sint iste dicta vero velit""".split()
)
WORD = re.compile(r"[^\W\d_]+")


class PlaceholderConfig(Section):
    """Placeholder text (lorem ipsum): the words of the standard filler passage and its generators.

    A document that mentions lorem ipsum once is kept; one made of it is not.
    """

    NUMBERS = (
        "max_lorem_share 0.5: labelled set: genuine documents at most 0.20 (99th percentile 0.12), placeholder "
        "text 0.99 median. min_words 5: a choice (shorter text is the length rule's to judge)."
    )

    enabled: bool | None = Field(default=None, description="true or false; empty: as clean.profile says.")
    min_words: int = Field(default=5, ge=1, description="Documents with fewer words are not judged.")
    max_lorem_share: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Share of words from the lorem-ipsum vocabulary above which a document is filler "
        "(genuine Latin quotes stay far below: the vocabulary is the generators', not Latin's).",
    )


def lorem_share(text: str) -> tuple[int, float]:
    words = [w.lower() for w in WORD.findall(text)]
    return len(words), (sum(w in LOREM for w in words) / len(words) if words else 0.0)


def placeholder_filter(shard: pl.DataFrame, cfg: PlaceholderConfig) -> StepResult:
    if shard.is_empty():
        return StepResult(kept=shard)
    measured = [lorem_share(t) for t in shard["text"]]
    fails = pl.Series([n >= cfg.min_words and share > cfg.max_lorem_share for n, share in measured])
    detail = f"lorem-ipsum words > clean.placeholder.max_lorem_share = {cfg.max_lorem_share}"
    return apply_rules(shard, [("placeholder_text", fails, detail)])
