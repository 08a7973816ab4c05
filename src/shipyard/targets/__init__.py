"""Where shipyard runs beyond one process: build contexts, Kubernetes, kustomize, KServe.

Everything here writes files; nothing talks to a container runtime or a cluster.

::

    options.py       the user's deployment options, parsed and checked (pure)
    requirements.py  the pinned dependency set for exactly the flavors being served
    served.py        what an endpoint or model reference serves: refs, versions, flavors
    snapshot.py      a self-contained registry holding only the served versions (--store copy)
    container.py     the image's layout, the Dockerfile and the files beside it (pure text)
    build.py         ``shipyard build``: the build context on disk
    kubernetes.py    Deployment, Service, HPA, PodDisruptionBudget, ConfigMap (pure dicts)
    kustomize.py     the same as a base with staging and production overlays
    kserve.py        an InferenceService with the image as a custom predictor (pure dict)
    manifests.py     writing manifests as YAML files
"""
