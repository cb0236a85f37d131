"""CLIP embeddings equal to Hugging Face transformers, from clipembed's C++ engine.

    import clipembed
    model = clipembed.Model("openai/clip-vit-base-patch32")
    vectors = model.embed_images(["cat.jpg", "dog.png"], normalize=True)   # numpy [2, 512]
    texts = model.embed_texts(["a photo of a cat"], normalize=True)
    index = clipembed.Index.add("photos.idx", model, ["cat.jpg", "dog.png"])
    hits = index.search(texts[0], k=5)     # [SearchHit(row, path, score)], best first

Calls release the GIL and run on one shared compute runtime, so many Python threads may call at
once; ``await model.embed_images_async(...)`` serves asyncio. ``clipembed.dask.embed_files``
embeds collections over a Dask cluster.
"""

from ._clipembed import Error, Index, Model, SearchHit, __version__

__all__ = ["Error", "Index", "Model", "SearchHit", "__version__"]
