"""Municipalities of the example register: real Finnish names, approximate populations.

The eight trial areas of the 2017-2018 regional employment-service trials (YTYÄ
final report) are listed with the municipalities that took part. For the five
municipal trials the report names them (Lapland, North Savo, Pori, Southwest
Finland, Pirkanmaa). For the three regional (province-wide) trials the report
names Kokkola, Kaustinen and Kannus (Central Ostrobothnia), Joensuu and Liperi
(North Karelia) and refers to "the municipalities of the province"; the other
names there are the municipalities of those provinces in 2017.

The non-trial municipalities are real municipalities of the rest of mainland
Finland and Åland (2017 boundaries). Populations are rounded approximations of
2017 figures; they only set relative sizes in the synthetic data.
"""

from __future__ import annotations

# area -> (first trial month, target-group rule, [(municipality, population), ...])
TRIAL_AREAS: dict[str, tuple[str, str, list[tuple[str, int]]]] = {
    "Lapland": (
        "2017-08",
        "long_term",
        [
            ("Kemi", 21000),
            ("Kemijärvi", 7500),
            ("Rovaniemi", 62500),
            ("Sodankylä", 8600),
            ("Tornio", 22000),
        ],
    ),
    "North Savo": (
        "2017-08",
        "long_term",
        [("Kuopio", 118000), ("Siilinjärvi", 21500), ("Tuusniemi", 2600)],
    ),
    "Pori": ("2017-08", "long_term_or_under_30", [("Pori", 84500)]),
    "Southwest Finland": (
        "2017-08",
        "long_term_or_under_25",
        [("Naantali", 19200), ("Paimio", 10800), ("Raisio", 24500), ("Turku", 189000)],
    ),
    "Pirkanmaa": (
        "2017-08",
        "basic_benefits",
        [
            ("Tampere", 231000),
            ("Kangasala", 31000),
            ("Lempäälä", 23000),
            ("Nokia", 33500),
            ("Orivesi", 9300),
            ("Pirkkala", 19000),
            ("Vesilahti", 4500),
            ("Ylöjärvi", 33000),
        ],
    ),
    "Central Ostrobothnia": (
        "2017-05",
        "early",
        [
            ("Kokkola", 47700),
            ("Kannus", 5600),
            ("Kaustinen", 4300),
            ("Halsua", 1200),
            ("Lestijärvi", 800),
            ("Perho", 2800),
            ("Toholampi", 3200),
            ("Veteli", 3200),
        ],
    ),
    "North Karelia": (
        "2017-04",
        "long_term_or_under_30",
        [
            ("Joensuu", 76000),
            ("Liperi", 12300),
            ("Kitee", 10900),
            ("Lieksa", 11800),
            ("Nurmes", 7900),
            ("Outokumpu", 6900),
            ("Kontiolahti", 14800),
            ("Ilomantsi", 5400),
            ("Juuka", 5000),
            ("Polvijärvi", 4500),
            ("Rääkkylä", 2300),
            ("Tohmajärvi", 4700),
        ],
    ),
    "Central Finland": (
        "2017-03",
        "mid_duration",
        [
            ("Jyväskylä", 140000),
            ("Jämsä", 21000),
            ("Äänekoski", 19000),
            ("Laukaa", 18800),
            ("Muurame", 10200),
            ("Saarijärvi", 9900),
            ("Keuruu", 10000),
            ("Viitasaari", 6700),
            ("Hankasalmi", 5000),
            ("Joutsa", 4700),
            ("Kannonkoski", 1400),
            ("Karstula", 4200),
            ("Kinnula", 1700),
            ("Kivijärvi", 1100),
            ("Konnevesi", 2800),
            ("Kyyjärvi", 1400),
            ("Luhanka", 750),
            ("Multia", 1700),
            ("Petäjävesi", 3900),
            ("Pihtipudas", 4100),
            ("Toivakka", 2400),
            ("Uurainen", 3600),
        ],
    ),
}

_NON_TRIAL = """
Helsinki 643000; Espoo 280000; Vantaa 224000; Kauniainen 9600; Hyvinkää 46500; Järvenpää 42000;
Kerava 35500; Kirkkonummi 39000; Lohja 47000; Nurmijärvi 42000; Porvoo 50000; Sipoo 20000;
Tuusula 38500; Vihti 29000; Mäntsälä 20800; Raasepori 28000; Loviisa 15200; Hanko 8600;
Inkoo 5500; Karkkila 8900; Siuntio 6200; Pornainen 5100; Pukkila 2000; Myrskylä 1900;
Askola 5000; Lapinjärvi 2700;
Salo 53000; Kaarina 33000; Lieto 19500; Uusikaupunki 15500; Loimaa 16300; Parainen 15300;
Masku 9700; Mynämäki 7800; Laitila 8400; Somero 9000; Kemiönsaari 6800; Nousiainen 4800;
Rusko 6100; Sauvo 3000; Pöytyä 8400; Oripää 1400; Marttila 2000; Koski Tl 2300; Aura 4000;
Taivassalo 1600; Kustavi 900; Pyhäranta 2100; Vehmaa 2300;
Rauma 39800; Ulvila 13500; Kankaanpää 11700; Harjavalta 7200; Huittinen 10400; Eura 12200;
Eurajoki 9400; Kokemäki 7600; Nakkila 5600; Pomarkku 2200; Säkylä 6800; Merikarvia 3200;
Siikainen 1500; Jämijärvi 1900; Karvia 2400; Honkajoki 1700;
Valkeakoski 21000; Sastamala 25000; Akaa 17000; Mänttä-Vilppula 10500; Hämeenkyrö 10500;
Ikaalinen 7200; Parkano 6600; Virrat 6900; Urjala 4900; Pälkäne 6700; Ruovesi 4500;
Juupajoki 1900; Kihniö 2000; Punkalaidun 3000;
Hämeenlinna 67900; Riihimäki 29000; Forssa 17200; Janakkala 16700; Hattula 9700; Loppi 8100;
Hausjärvi 8500; Tammela 6200; Jokioinen 5500; Ypäjä 2400; Humppila 2300;
Lahti 119000; Hollola 24000; Heinola 19500; Orimattila 16000; Asikkala 8200; Sysmä 3900;
Padasjoki 3100; Kärkölä 4500; Hartola 2900; Iitti 6800;
Kouvola 84000; Kotka 54000; Hamina 20500; Pyhtää 5300; Miehikkälä 2000; Virolahti 3300;
Lappeenranta 73000; Imatra 27000; Lemi 3100; Luumäki 4800; Parikkala 5100; Rautjärvi 3600;
Ruokolahti 5300; Savitaipale 3400; Taipalsaari 4800;
Mikkeli 54500; Savonlinna 35000; Pieksämäki 18500; Juva 6500; Kangasniemi 5500; Mäntyharju 6000;
Sulkava 2700; Rantasalmi 3600; Puumala 2300; Hirvensalmi 2200; Pertunmaa 1800; Enonkoski 1400;
Heinävesi 3500;
Iisalmi 21800; Varkaus 21500; Suonenjoki 7300; Leppävirta 9900; Lapinlahti 9800; Kiuruvesi 8500;
Pielavesi 4600; Sonkajärvi 4200; Vieremä 3800; Keitele 2300; Tervo 1600; Rautalampi 3300;
Rautavaara 1700; Vesanto 2200; Kaavi 3100; Joroinen 5000;
Vaasa 67500; Mustasaari 19300; Pietarsaari 19400; Närpiö 9300; Kristiinankaupunki 6700;
Uusikaarlepyy 7500; Laihia 8100; Isokyrö 4800; Vöyri 6700; Maalahti 5500; Kaskinen 1300;
Korsnäs 2200; Pedersören kunta 11100; Luoto 5300;
Seinäjoki 62000; Kurikka 21500; Lapua 14700; Kauhava 16800; Alavus 11900; Kauhajoki 13700;
Ilmajoki 12200; Ähtäri 6000; Alajärvi 10000; Teuva 5400; Isojoki 2100; Karijoki 1400;
Evijärvi 2600; Lappajärvi 3200; Vimpeli 3000; Soini 2200; Kuortane 3700;
Oulu 200000; Kempele 17500; Kuusamo 15700; Raahe 24700; Ylivieska 15300; Kalajoki 12500;
Liminka 10000; Muhos 8900; Nivala 10900; Haapajärvi 7200; Haapavesi 7000; Ii 9900;
Lumijoki 2100; Oulainen 7500; Pudasjärvi 8200; Pyhäjärvi 5500; Pyhäjoki 3200; Siikajoki 5400;
Siikalatva 5400; Taivalkoski 4000; Tyrnävä 6700; Utajärvi 2800; Vaala 3000; Alavieska 2600;
Kärsämäki 2600; Merijärvi 1100; Pyhäntä 1600; Reisjärvi 2800; Sievi 5200; Hailuoto 1000;
Kajaani 37500; Sotkamo 10500; Kuhmo 8800; Suomussalmi 8300; Paltamo 3400; Puolanka 2700;
Ristijärvi 1400; Hyrynsalmi 2400;
Kittilä 6500; Inari 6900; Kolari 3800; Muonio 2400; Enontekiö 1900; Utsjoki 1250; Keminmaa 8200;
Simo 3100; Tervola 3100; Ranua 3900; Posio 3400; Pello 3700; Pelkosenniemi 950; Salla 3600;
Savukoski 1050; Ylitornio 4300;
Maarianhamina 11700; Jomala 5000; Finström 2500; Lemland 2000; Saltvik 1800; Hammarland 1500;
Sund 1000; Eckerö 950
"""


def non_trial_municipalities() -> list[tuple[str, int]]:
    """Real non-trial municipalities with approximate populations, largest first."""
    out: list[tuple[str, int]] = []
    for item in _NON_TRIAL.replace("\n", " ").split(";"):
        item = item.strip()
        if not item:
            continue
        name, pop = item.rsplit(" ", 1)
        out.append((name.strip(), int(pop)))
    out.sort(key=lambda t: (-t[1], t[0]))
    return out
