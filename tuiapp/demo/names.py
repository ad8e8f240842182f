"""Plausible French names for the demo database."""

LAST_NAMES = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
    "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD",
    "BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT", "MULLER", "LEFÈVRE", "FAURE", "ANDRÉ",
    "MERCIER", "BLANC", "GUÉRIN", "BOYER", "GARNIER", "CHEVALIER", "FRANÇOIS", "LEGRAND", "GAUTHIER", "GARCIA",
    "PERRIN", "ROBIN", "CLÉMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "GAUTIER", "MASSON",
    "DUCHÊNE", "DELATTRE", "VANDAMME", "DEBRUYNE", "WAMBRE", "CARPENTIER", "DUHAMEL", "LECLERCQ", "DESMET", "POTTIER",
    "DE LA FONTAINE", "LE GALL", "N'DIAYE", "SAINT-PIERRE", "COQUELLE", "DHAINAUT", "HOCHART", "LEMAIRE", "DUFOUR", "PRÉVOST",
)

FIRST_NAMES_FEMALE = (
    "Marie", "Jeanne", "Françoise", "Monique", "Catherine", "Nathalie", "Isabelle", "Sylvie", "Christine", "Martine",
    "Nicole", "Denise", "Josette", "Yvette", "Ginette", "Odette", "Hélène", "Brigitte", "Chantal", "Éliane",
    "Solène", "Aurélie", "Émilie", "Léa", "Chloé",
)

FIRST_NAMES_MALE = (
    "Jean", "Michel", "Pierre", "André", "Philippe", "Alain", "Bernard", "René", "Jacques", "Daniel",
    "Gérard", "Marcel", "Roger", "Lucien", "Henri", "Raymond", "Claude", "François", "Thierry", "Éric",
    "Kévin", "Jérôme", "Loïc", "Théo", "Maxime",
)

#: Professional guardians (mandataires judiciaires), each shared by several residents.
MANDATAIRES = (
    ("UDAF du Nord - Service des majeurs protégés", "majeurs.proteges@udaf-nord.example.org"),
    ("ATI Flandre - Mandataire judiciaire", "gestion@ati-flandre.example.org"),
    ("Mme LEROY Martine, mandataire judiciaire", "m.leroy.mandataire@example.net"),
    ("AGSS de l'UDAF - Pôle tutelles", "tutelles@agss.example.org"),
)

FAMILY_LINKS = ("fille", "fils", "sœur", "frère", "nièce", "neveu")

#: The mandataires' postal addresses, by name.
MANDATAIRE_ADDRESSES = {
    "UDAF du Nord - Service des majeurs protégés": "10 rue Jean Moulin\nBP 60017\n59000 Lille",
    "ATI Flandre - Mandataire judiciaire": "45 rue de Dunkerque\n59190 Hazebrouck",
    "Mme LEROY Martine, mandataire judiciaire": "7 place de la République\n59280 Armentières",
    "AGSS de l'UDAF - Pôle tutelles": "2 boulevard de la Liberté\n59800 Lille",
}

#: Streets and towns where the families live (a family's address is picked by its resident's place).
STREETS = ("rue Victor Hugo", "rue Pasteur", "allée des Charmes", "rue de la Gare", "avenue Foch",
           "rue du Moulin", "impasse des Lilas", "rue Jean Jaurès", "chemin du Halage", "rue Nationale")
TOWNS = ("59000 Lille", "59100 Roubaix", "59200 Tourcoing", "59280 Armentières", "59130 Lambersart",
         "59190 Hazebrouck", "59640 Dunkerque", "62400 Béthune", "59500 Douai", "80000 Amiens")
