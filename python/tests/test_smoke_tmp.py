import pwalk, os
def test_import():
    print(pwalk.__file__, os.listdir(pwalk.PLUGIN_DIR))
    assert list(pwalk.walk(os.path.dirname(pwalk.__file__)))
