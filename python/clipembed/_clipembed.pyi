"""Type stubs of the clipembed extension (see help(clipembed.Model))."""

import asyncio
import os
from typing import Any, Iterable, Literal, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

__version__: str

ImageItem = Union[str, os.PathLike, bytes, bytearray, memoryview, "PIL.Image.Image", npt.NDArray[np.uint8]]
Masked = Tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_], list]

class Error(Exception):
    """A clipembed failure: .code (e.g. "image_decode"), .message, .index (item or None)."""

    code: str
    message: str
    index: int | None

class Model:
    """A CLIP model loaded from a directory or the Hugging Face cache."""

    def __init__(self, ref: str, precision: str = "fp32", threads: int | None = None,
                 allow_private_urls: bool = False) -> None: ...
    @property
    def dimension(self) -> int: ...
    @property
    def precision(self) -> str: ...
    @property
    def directory(self) -> str: ...
    @property
    def config(self) -> dict[str, Any]: ...
    @property
    def has_vision(self) -> bool: ...
    @property
    def has_text(self) -> bool: ...
    @property
    def logit_scale(self) -> float: ...
    @overload
    def embed_images(self, items: Iterable[ImageItem], normalize: bool = ...,
                     errors: Literal["raise"] = ...) -> npt.NDArray[np.float32]: ...
    @overload
    def embed_images(self, items: Iterable[ImageItem], normalize: bool = ...,
                     errors: Literal["mask"] = ...) -> Masked: ...
    @overload
    def embed_texts(self, texts: Iterable[str], normalize: bool = ...,
                    errors: Literal["raise"] = ...) -> npt.NDArray[np.float32]: ...
    @overload
    def embed_texts(self, texts: Iterable[str], normalize: bool = ...,
                    errors: Literal["mask"] = ...) -> Masked: ...
    def classify(self, images: Iterable[ImageItem], labels: Sequence[str],
                 template: str = "a photo of a {}.") -> npt.NDArray[np.float32]: ...
    def tokenize(self, text: str) -> list[int]: ...
    def embed_images_async(self, items: Iterable[ImageItem], normalize: bool = ...,
                           errors: str = ...) -> asyncio.Future: ...
    def embed_texts_async(self, texts: Iterable[str], normalize: bool = ...,
                          errors: str = ...) -> asyncio.Future: ...
