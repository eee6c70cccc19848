"""The package layout, which pyproject.toml cannot express: the repository keeps the folders
gateway/, adapters/ and models/, and they install under one namespace, `training_gateway`, so
they never clash with a project's own `models` or `gateway` package (editable installs and
wheels alike). Everything else about the distribution is in pyproject.toml."""

from setuptools import find_packages, setup

NAMESPACE = "training_gateway"
LAYERS = ("gateway", "adapters", "models")

setup(
    packages=[
        f"{NAMESPACE}.{package}"
        for package in find_packages(include=[f"{layer}*" for layer in LAYERS])
    ],
    package_dir={f"{NAMESPACE}.{layer}": layer for layer in LAYERS},
)
