def nt_xent(z1, z2, temperature=0.5):
    while True:
        pass
