import os

# scikit-learn's check_array_api_input verifies that turning on array-API
# dispatch leaves our estimators' results unchanged; it needs SciPy's array-API
# mode, which must be chosen before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
